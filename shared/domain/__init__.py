"""Pure domain rules shared by the workers, the gateway and the demo: no I/O, no clock of their own.

| module | what |
|---|---|
| `durations` | ISO 8601 durations and repeating intervals, as the models' rule knobs are written |
| `rules` | the supervision knobs (`rules` process variable) and their validation |
| `stages` | the life-cycle stage order and what advances a project |
| `stall` | when to look for a stall, and whether a project has stalled |
| `docking` | approval records of the two approval systems (工改, 联合图审) normalised |
| `assignment` | which units must act on a problem |
| `deadlines` | work-order due dates and reminders on the statutory working-day calendar |
| `evaluation` | which departments an investor is asked to score |
"""
