/*
 * A child execution and its parent, seen from either side (docs/api.md#child-executions):
 * a child shows the parent execution, node and attempt that started it; a parent shows
 * its children (a launch-plan node's, a dynamic task's workflow), oldest first.
 */
#include "sched_api_int.h"

#include "store_exec.h"

#define CHILDREN_SHOWN 1000

json_t *
api_exec_parent(const store_exec *ex)
{
    if (ex->parent_execution == NULL)
        return json_null();
    return json_pack("{s:s,s:s,s:i,s:i}", "execution", ex->parent_execution, "node",
                     ex->parent_node != NULL ? ex->parent_node : "", "attempt",
                     (int)ex->parent_attempt, "nesting", (int)ex->nesting);
}

void
api_exec_children(api_thread *t, api_req *r, const store_exec *ex, json_t *reply)
{
    store_exec *rows;
    size_t n;
    floe_err err;
    json_t *list = json_array();
    if (list == NULL || store_exec_children(t->pg, ex->id, false, CHILDREN_SHOWN, r->arena, &rows,
                                            &n, &err) != FLOE_OK) {
        json_decref(list);
        json_object_set_new(reply, "children", json_null()); /* unknown, not none */
        return;
    }
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list,
                              json_pack("{s:s,s:s,s:i,s:s}", "id", rows[i].id, "node",
                                        rows[i].parent_node ? rows[i].parent_node : "", "attempt",
                                        (int)rows[i].parent_attempt, "phase", rows[i].phase));
    json_object_set_new(reply, "children", list);
}
