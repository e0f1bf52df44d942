"""Call stages (a mission's progress) and the per-call time columns of the dispatch model."""

WAIT, PROCESSING, QUEUED, TO_SCENE, ON_SCENE, TO_HOSPITAL, HANDOVER, RETURNING, DONE = range(9)
#: unit states recorded per unit: 0 free at its station, else the stage of its call
STAGE_NAMES = {WAIT: "wait", PROCESSING: "processing", QUEUED: "queued",
               TO_SCENE: "to_scene", ON_SCENE: "on_scene", TO_HOSPITAL: "to_hospital",
               HANDOVER: "handover", RETURNING: "returning", DONE: "done"}
#: per-call times (s, NaN until they happen)
TIMES = ("dispatched", "departed", "arrived", "cleared", "at_hospital", "back", "requested")
