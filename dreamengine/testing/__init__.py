"""Helpers for testing plugins: a fresh plugin host, a tiny model, and the conformance check.

A plugin's test suite needs three lines to run every generic invariant over its
components::

    from dreamengine.testing import assert_conformance, plugin_host
    from dreamengine_extras import plugin

    def test_conformance():
        with plugin_host(plugin) as host:
            assert_conformance(host.registry, plugin="dreamengine_extras.plugin")

As a pytest fixture::

    @pytest.fixture
    def host():
        with plugin_host(plugin) as host:
            yield host

The invariants, for every registered component (with its default options, or
the option sets given in ``options``):

* initializers: a float32 ``(batch, 3, H, W)`` tensor on the CPU, finite, in
  [0, 1], the same for the same seed whatever the global random state; an
  ``aspect()`` of ``None`` or a ratio above 0;
* regularizers, for each phase they override: ``transform`` keeps batch and
  channels, dtype and device, is finite, keeps [0, 1] and lets the gradient
  through; ``penalty`` is a finite, differentiable ``(batch,)`` tensor;
  ``gradient`` keeps the shape, dtype and device, is finite (also for a zero
  gradient) and the same for the same input;
  ``project`` keeps the shape, dtype, device and [0, 1]; random phases repeat
  exactly under the same seed and never touch the global random state;
* parametrizations: ``setup`` returns leaf tensors that require grad;
  ``image()`` renders the image it was set up with or assigned (within 1e-3)
  as a float32 tensor in [0, 1], lets a gradient through to every parameter,
  and renders the same for two instances set up alike;
* objectives: a finite ``(batch,)`` tensor on the image's device that is the
  same for the same input and has a non-zero, finite gradient w.r.t. the image,
  on :func:`tiny_model` (whose layers are listed in :data:`TINY_LAYERS`);
* every component: a summary for ``dreamengine list`` and two steps of a real
  dream on :func:`tiny_model` without diverging.
"""

from dreamengine.testing.conformance import Problem, assert_conformance, check_conformance
from dreamengine.testing.hosts import make_host, plugin_host
from dreamengine.testing.models import TINY_LAYERS, tiny_model

__all__ = [
    "TINY_LAYERS",
    "Problem",
    "make_host",
    "plugin_host",
    "tiny_model",
    "check_conformance",
    "assert_conformance",
]
