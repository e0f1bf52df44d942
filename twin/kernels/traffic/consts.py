"""Constants shared by the traffic kernel's compiled modules and its Python side."""

# approach signal states
RED = 0
YELLOW = 1
GREEN = 2
FREE = 3  # not signal controlled (priority rules apply)
GREEN_MINOR = 4  # a green that must yield (SUMO 'g', 's'); GREEN is SUMO's 'G'

# turn kinds
TURN_RIGHT = 0
TURN_THROUGH = 1
TURN_LEFT = 2
TURN_UTURN = 3

# vehicle status
SCHEDULED = 0
WAITING = 1
ACTIVE = 2
ARRIVED = 3
STUCK = 4  # removed: no next link towards its destination (SUMO: teleported)
CANCELLED = 5  # taken off the network by TrafficProcess.cancel_trips

# counters columns
C_RELEASED = 0
C_WAITING = 1
C_ACTIVE = 2
C_ARRIVED = 3
C_STUCK = 4
N_COUNTERS = 5

# parameter vector layout
P_VEH_LEN = 0
P_JAM_SPACING = 1
P_TAU = 2
P_ACCEL = 3
P_DECEL = 4
P_YELLOW_DECEL = 5
P_GAP_CRIT = 6
P_DET_LEN = 7
P_QUEUE_SPEED = 8
P_TURN_RIGHT = 9
P_TURN_LEFT = 10
P_TELEPORT = 11
P_SIGMA = 12
P_OWN_LANE_BONUS = 13
N_PARAMS = 14

# error codes returned by advance()
ERR_OK = 0
ERR_OVERLAP = 1
ERR_BACKWARDS = 2
ERR_CONSERVATION = 3
ERR_LANE_FULL = 4
