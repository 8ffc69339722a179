/*
 * floe_fault — crash points for the windows a kill -9 from outside rarely hits (between a
 * produce and the offset store, a Redis write and its ack, a commit and its reply...), as
 * PostgreSQL's injection points. FLOE_FAULT("worker.after_result_produced") kills the
 * process with SIGKILL when the environment says FLOE_FAULT_POINT=<that name>, at the
 * FLOE_FAULT_AFTER'th time it is reached (1 when unset). Compiled only in FLOE_TESTING
 * builds; the list of points is in docs/reliability.md, and tests/faults runs one
 * scenario per point.
 */
#ifndef FLOE_FAULT_H
#define FLOE_FAULT_H

#ifdef FLOE_TESTING
void floe_fault_point(const char *name);
#define FLOE_FAULT(name) floe_fault_point(name)
#else
#define FLOE_FAULT(name) ((void)0)
#endif

#endif
