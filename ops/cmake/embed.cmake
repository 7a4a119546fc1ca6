# Turns the file IN into a C source OUT defining tb_regions_csv[] and
# tb_regions_csv_len (the bytes, NUL-terminated).
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR len "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(REGEX REPLACE "((0x..,){16})" "\\1\n" body "${body}")
file(WRITE ${OUT} "/* Generated from data/regions.csv; do not edit. */\n"
  "#include <stddef.h>\n"
  "const char tb_regions_csv[] = {\n${body}0x00};\n"
  "const size_t tb_regions_csv_len = ${len};\n")
