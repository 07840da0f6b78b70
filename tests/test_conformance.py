"""dreamengine.testing: the built-ins pass the conformance check, and it catches broken components."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from dreamengine import DreamError, Initializer, Objective, PixelParametrization, Regularizer, hookimpl
from dreamengine.testing import TINY_LAYERS, assert_conformance, check_conformance, make_host, plugin_host, tiny_model


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.png"
    Image.new("RGB", (20, 12), "orange").save(path)
    return str(path)


@pytest.fixture
def direction(tmp_path):
    path = tmp_path / "direction.pt"
    torch.save(torch.linspace(-1, 1, 16), path)  # one weight for each of relu2's 16 channels
    return str(path)


def test_every_builtin_component_conforms(photo, direction):
    with plugin_host() as host:
        assert_conformance(
            host.registry,
            options={
                "photo": [{"path": photo}, {"path": photo, "blur": 2.0}],
                "layer": [{"layer": "relu2"}, {"layer": "conv1", "channel": 3}],
                "neuron": [{"layer": "relu2", "channel": 1}, {"layer": "conv1", "channel": 3, "x": 0.0, "y": 1.0}],
                "guide": [{"layer": "relu2", "path": photo}, {"layer": "conv1", "path": photo}],
                "style": [{"layer": "relu2", "path": photo}, {"layer": "conv1", "path": photo}],
                "near": [{"layer": "relu2", "path": photo}, {"layer": "conv1", "path": photo}],
                "direction": [
                    {"layer": "relu2", "path": direction},
                    {"layer": "relu2", "path": direction, "cossim_pow": 2.0},
                ],
                "blur": [{}, {"sigma": 0.1, "sigma_max": 1.0}],
                "gradient": [{}, {"angle": 90.0}],
                "fft": [{}, {"decay": 0.5, "decorrelate": False}],
                "maco": [{}, {"contrast": 1.0, "rate": 1.0}],
                "diversity": [{"layer": "relu2"}, {"layer": "conv1"}],
                "logit": [{}, {"target": "class2"}, {"target": "3"}],
                "roll": [{}, {"pixels": 2}],
                "scale": [{}, {"min": 0.5, "max": 2.0}],
                "rotate": [{}, {"degrees": 180.0}],
                "tv": [{}, {"weight": 0.0}],
                "l2": [{}, {"weight": 3.0, "center": 0.0}],
                "gradnorm": [{}, {"mode": "mean-abs"}],
                "gradblur": [{}, {"sigma": 0.0}],
                "mask": [{"path": photo}, {"path": photo, "invert": True}],
            },
        )


def test_a_component_that_needs_options_is_reported_not_skipped():
    problems = check_conformance(make_host().registry, kinds=["initializers"])
    assert [str(p) for p in problems] == [
        "initializer 'photo': cannot be built: initializer 'photo' needs option(s) path, as in 'photo:path=...'. "
        "Give the check its options: options={'photo': {...}}."
    ]


def test_tiny_model_has_the_documented_layers_and_leaves_the_global_rng_alone():
    state = torch.random.get_rng_state()
    model = tiny_model()
    assert torch.equal(torch.random.get_rng_state(), state)
    assert [name for name, _ in model.net.named_children()] == list(TINY_LAYERS)
    assert torch.equal(model(torch.zeros(1, 3, 16, 16)), tiny_model()(torch.zeros(1, 3, 16, 16)))


class GlobalNoise(Regularizer):
    """Adds noise from the global random state (wrong: not repeatable under a seed)."""

    def transform(self, image, generator):
        return image + 0.01 * torch.rand(image.shape)


class Brighten(Regularizer):
    """Brightens the stored image past white."""

    def project(self, image, generator):
        return image + 0.5


class Detached(Regularizer):
    """A transform that cuts the gradient."""

    def transform(self, image, generator):
        return image.detach().flip(-1)


class Shrink(Regularizer):
    """A projection that changes the stored image's size."""

    def project(self, image, generator):
        return image[..., 1:, :]


class Nothing(Regularizer):
    """Overrides no phase."""


class WidePenalty(Regularizer):
    """A penalty with the wrong shape."""

    def penalty(self, image):
        return image.abs().mean()


class UnguardedNorm(Regularizer):
    """Divides the gradient by its norm with no floor: a zero gradient becomes NaN."""

    def gradient(self, grad):
        return grad / grad.norm()


class Double(Initializer):
    """A float64 image."""

    def __call__(self, batch, height, width, generator):
        return torch.full((batch, 3, height, width), 0.5, dtype=torch.float64)


class Transposed(Initializer):
    """Height and width swapped."""

    def __call__(self, batch, height, width, generator):
        return torch.full((batch, 3, width, height), 0.5)


class Constant(Objective):
    """Ignores the image."""

    def __call__(self, outputs):
        return torch.ones(outputs.logits.shape[0])


class Flat(Initializer):
    """A gray start whose aspect is no ratio."""

    def __call__(self, batch, height, width, generator):
        return torch.full((batch, 3, height, width), 0.5)

    def aspect(self):
        return 0.0


class Summed(Objective):
    """One number for the whole batch instead of one per item."""

    def __call__(self, outputs):
        return outputs.logits.sum()


class Unknown(Objective):
    """Reads a layer the model does not have."""

    layers = ("blocks.9",)

    def __call__(self, outputs):
        return outputs.activations["blocks.9"].mean()


class Forgetful(PixelParametrization):
    """Ignores assign: projections such as clamp would be lost."""

    def assign(self, image):
        pass


class Darker(PixelParametrization):
    """Renders a darker image than it was given."""

    def image(self):
        return self.pixels * 0.5


class BrokenPlugin:
    @hookimpl
    def dreamengine_register_regularizers(self, register):
        for name, factory in [
            ("global-noise", GlobalNoise),
            ("brighten", Brighten),
            ("detached", Detached),
            ("shrink", Shrink),
            ("nothing", Nothing),
            ("wide-penalty", WidePenalty),
            ("unguarded-norm", UnguardedNorm),
        ]:
            register(name, factory)
        register("nameless", Brighten, summary=" ")

    @hookimpl
    def dreamengine_register_initializers(self, register):
        register("double", Double)
        register("transposed", Transposed)
        register("flat", Flat)

    @hookimpl
    def dreamengine_register_objectives(self, register):
        register("constant", Constant)
        register("summed", Summed)
        register("unknown", Unknown)

    @hookimpl
    def dreamengine_register_parametrizations(self, register):
        register("forgetful", Forgetful)
        register("darker", Darker)


@pytest.fixture(scope="module")
def broken_problems():
    plugin = BrokenPlugin()
    with plugin_host(plugin) as host:
        return check_conformance(host.registry, plugin=host.pm.get_name(plugin))


@pytest.mark.parametrize(
    "name, message",
    [
        ("global-noise", "differs between two calls with equally seeded generators"),
        ("brighten", "project left [0, 1] (values from 0.5"),
        ("detached", "transform does not let a finite gradient through"),
        ("shrink", "project returned shape (2, 3, 16, 23), expected (2, 3, 17, 23)"),
        ("nothing", "overrides none of transform, penalty, gradient and project"),
        ("wide-penalty", "penalty returned shape (), expected (2,)"),
        ("unguarded-norm", "gradient of a zero gradient returned values that are not finite"),
        ("nameless", "has no summary"),
        ("double", "returned dtype torch.float64"),
        ("transposed", "the initializer returned shape (2, 3, 23, 17), expected (2, 3, 17, 23)"),
        ("flat", "aspect() returned 0.0, expected None or a width / height ratio above 0"),
        ("constant", "the objective is not differentiable"),
        ("summed", "the objective returned shape (), expected (2,)"),
        ("unknown", "unknown layer of tiny 'blocks.9'"),
        ("forgetful", "image() after assign(image) renders another image"),
        ("darker", "image() right after setup(image) renders another image"),
    ],
)
def test_each_broken_invariant_is_reported(broken_problems, name, message):
    found = [str(p) for p in broken_problems if p.name == name]
    assert any(message in text for text in found), found


def test_assert_conformance_lists_problems_and_refuses_to_check_nothing():
    plugin = BrokenPlugin()
    with plugin_host(plugin) as host:
        with pytest.raises(AssertionError, match=r"conformance problem\(s\):\n  regularizer 'brighten'"):
            assert_conformance(host.registry, plugin=host.pm.get_name(plugin), kinds=["regularizers"])
        with pytest.raises(AssertionError, match="no regularizers of plugin 'misspelt' are registered"):
            assert_conformance(host.registry, plugin="misspelt", kinds=["regularizers"])


def test_plugin_host_registers_then_unregisters():
    plugin, another = BrokenPlugin(), BrokenPlugin()
    with plugin_host(plugin, another, builtins=False) as host:
        assert [host.pm.get_name(p) for p in (plugin, another)] == ["BrokenPlugin", "BrokenPlugin-2"]
        assert host.pm.is_registered(plugin)
    assert not host.pm.is_registered(plugin) and not host.pm.is_registered(another)


def test_plugin_host_without_builtins_has_only_the_plugin():
    plugin = BrokenPlugin()
    with plugin_host(plugin, builtins=False) as host:
        assert "blur" not in host.registry.names("regularizers")
        assert "brighten" in host.registry.names("regularizers")


def test_make_host_refuses_a_misspelt_hook():
    class Typo:
        @hookimpl
        def dreamengine_register_regularizer(self, register):
            """Misspelt: one 's' short."""

    with pytest.raises(DreamError, match="Did you mean 'dreamengine_register_regularizers'"):
        make_host(Typo())
