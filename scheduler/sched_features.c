/*
 * sched_features — the features in force in the engine, in the order their hooks run
 * (see eng_feature in sched_engine_int.h). A new feature adds itself here; the core
 * never names it.
 */
#include "sched_engine_int.h"

const eng_feature *const eng_features[] = {&eng_lineage_feature, &eng_lp_feature, NULL};
