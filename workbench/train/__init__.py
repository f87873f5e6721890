"""Training: one loop skeleton (:mod:`.loop`), classification (:mod:`.classify`), super-resolution
(:mod:`.sr`) and the results cache (:mod:`.cache`).

Everything ``wb.train.X`` offered before the split is re-exported here.
"""

# Each module's ``__all__`` is its public API; the package offers their union, listed once.
from . import cache, classify, loop, sr
from .cache import *  # noqa: F403
from .classify import *  # noqa: F403
from .loop import *  # noqa: F403
from .sr import *  # noqa: F403

__all__ = [*cache.__all__, *classify.__all__, *loop.__all__, *sr.__all__]

# detection and segmentation notebooks: training on Fashion-MNIST mosaics
from . import detect, segment  # noqa: E402
from .detect import *  # noqa: E402, F403
from .segment import *  # noqa: E402, F403

__all__ += [*detect.__all__, *segment.__all__]
# tiny_lm notebook (issue 15, item 4): language-model training for wb.bank.cached_train
from . import lm  # noqa: E402, F401
