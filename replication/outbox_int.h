/* Inside replication/: what outbox.c and outbox_recv.c share. */
#ifndef TB_REPLICATION_OUTBOX_INT_H
#define TB_REPLICATION_OUTBOX_INT_H

#include "replication/outbox.h"

/* outbox_send_ack tells origin this region's cursor of its stream. */
void outbox_send_ack(struct outbox_driver *d, uint32_t origin,
                     struct outbox_pos cursor);

/* outbox_recv_data / outbox_recv_run / outbox_recv_skip handle a DATA,
 * DATA_RUN or SKIP frame from peer p (outbox_recv checked its addresses). */
void outbox_recv_data(struct outbox_driver *d, struct outbox_peer *p,
                      const struct outbox_msg *m);
void outbox_recv_run(struct outbox_driver *d, struct outbox_peer *p,
                     const struct outbox_msg *m);
void outbox_recv_skip(struct outbox_driver *d, struct outbox_peer *p,
                      const struct outbox_msg *m);

#endif
