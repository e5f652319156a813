"""irad.passes: IR → IR transformations and the pipeline driver.

Importing this package registers every pass. Pipelines:
- "default": the optimizing pipeline the JIT runs, `fold,cse,load-cse,licm,dce`
  repeated until the IR stops changing (at most 8 rounds). Compiled primals then run
  "specialize-extents" and "fuse-copy-back" (`copyback.py`), see irad/api.py.
Gradients then run "flatten-views" (`flatten.py`), "promote-accumulations" (`promote.py`) and
"retime-accumulations" (`retime.py`) and "split-accumulations" (`fission.py`) with their
shadow arguments as `noalias_args`, then "fuse-loops" (`fuse.py`), "zero-slots" (`zero_slots.py`:
shadow arrays that are zero whenever read go) with "fold", and
"specialize-extents" (`specialize.py`); pullbacks run only "specialize-extents" on their two
halves.
"""
from .driver import (DEFAULT_OPTIONS, PassOptions, Pipeline, get_pass, register,  # noqa: F401
                     register_in_place, register_pipeline, registered_passes, registered_pipelines,
                     run_pass, run_pipeline, split_pipeline, unregister)
from . import (dce, copyback, cse, fold, fuse, fission, flatten, licm, loads, carried_arrays,  # noqa: F401,E402
               promote, retime, specialize, zero_slots)

register_pipeline("default", "fold,cse,load-cse,licm,dce", fixpoint=True)
