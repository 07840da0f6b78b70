"""The gradient-ascent loop on a tiny model."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from dreamengine import DreamError, DreamInterrupted, DreamJob, DreamOutputs, Objective, Regularizer
from dreamengine.engine.loop import DreamLoop, _fused, run_job
from dreamengine.run.execute import run_through_hooks
from dreamengine_builtins.objectives import CrossEntropy, Diversity, Layer, Logit, Neuron, gram_matrix, gram_similarity
from dreamengine_builtins.penalties import L2, TotalVariation
from dreamengine_builtins.projections import Blur, Clamp
from dreamengine_builtins.transforms import Flip, Jitter


def job_for(model, objective=None, regularizers=(), steps=20, lr=0.05, seed=0, targets=(0,), optimizer="adam", **kw):
    generator = torch.Generator().manual_seed(seed)
    image = torch.full((len(targets), 3, 16, 16), 0.5)
    return DreamJob(
        model=model,
        objective=objective or Logit(),
        regularizers=list(regularizers),
        image=image,
        targets=torch.tensor(targets),
        steps=steps,
        lr=lr,
        optimizer=optimizer,
        generator=generator,
        **kw,
    )


def logit(model, image, target):
    with torch.no_grad():
        return float(model(image)[0, target])


def test_the_objective_rises_and_only_the_image_changes(tiny_model):
    before = {k: v.clone() for k, v in tiny_model.state_dict().items()}
    job = job_for(tiny_model, regularizers=[Clamp()])
    result = run_job(job)
    assert logit(tiny_model, result.image, 0) > logit(tiny_model, job.image, 0) + 0.1
    assert all(torch.equal(before[k], v) for k, v in tiny_model.state_dict().items())
    assert result.steps_done == 20 and result.diverged is None
    assert result.image.min() >= 0 and result.image.max() <= 1


def test_several_targets_in_one_batch_each_get_their_own_dream(tiny_model):
    result = run_job(job_for(tiny_model, targets=(0, 1, 2), regularizers=[Clamp()]))
    assert result.image.shape == (3, 3, 16, 16)
    for item in range(3):
        logits = tiny_model(result.image[item : item + 1])[0]
        others = [logit(tiny_model, result.image[j : j + 1], item) for j in range(3) if j != item]
        assert float(logits[item]) > max(others)


def test_a_seed_repeats_exactly_and_another_seed_differs(tiny_model):
    regs = lambda: [Jitter(2), Flip(), Blur(sigma=0.1, sigma_max=0.9), Clamp()]  # noqa: E731
    a = run_job(job_for(tiny_model, regularizers=regs(), seed=3)).image
    b = run_job(job_for(tiny_model, regularizers=regs(), seed=3)).image
    c = run_job(job_for(tiny_model, regularizers=regs(), seed=4)).image
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_cross_entropy_and_sgd_work(tiny_model):
    result = run_job(job_for(tiny_model, objective=CrossEntropy(), optimizer="sgd", lr=1.0, regularizers=[Clamp()]))
    assert result.diverged is None and torch.isfinite(result.image).all()


def test_layer_objective_reads_captured_activations(tiny_model):
    objective = Layer(layer="2", channel=5)
    job = job_for(tiny_model, objective=objective, regularizers=[Clamp()])
    result = run_job(job)
    with tiny_model.capture(["2"]) as seen:
        tiny_model(result.image)
        after = float(seen["2"][:, 5].mean())
        tiny_model(job.image)
        before = float(seen["2"][:, 5].mean())
    assert after > before
    assert not tiny_model.net[2]._forward_hooks  # hooks removed after the run


def test_a_neuron_is_one_channel_at_one_position_given_as_a_share_of_the_feature_map():
    activation = torch.randn(2, 4, 5, 6)
    outputs = DreamOutputs(None, torch.tensor([0, 0]), {"l": activation})
    assert torch.equal(Neuron("l", 1)(outputs), activation[:, 1, 2, 3])  # the centre
    assert torch.equal(Neuron("l", 3, x=0, y=0)(outputs), activation[:, 3, 0, 0])
    assert torch.equal(Neuron("l", 0, x=1, y=1)(outputs), activation[:, 0, 4, 5])  # right, bottom
    assert torch.equal(Neuron("l", 2, x=0.5, y=0.2)(outputs), activation[:, 2, 1, 3])
    with pytest.raises(DreamError, match="has 4 channels"):
        Neuron("l", 4)(outputs)
    with pytest.raises(DreamError, match="no feature map"):
        Neuron("l", 1)(DreamOutputs(None, torch.tensor([0]), {"l": torch.randn(1, 4)}))
    with pytest.raises(ValueError, match="from 0 to 1"):
        Neuron("l", 1, x=1.5)


def test_a_neuron_says_which_share_is_out_of_range_and_why_a_layer_has_no_feature_map():
    with pytest.raises(ValueError, match=r"^x is a share of the feature map's size, from 0 to 1; got 1.5$"):
        Neuron("l", 1, x=1.5)
    with pytest.raises(ValueError, match=r"^y is a share of the feature map's size, from 0 to 1; got -0.1$"):
        Neuron("l", 1, y=-0.1)
    linear = DreamOutputs(None, torch.tensor([0]), {"l": torch.randn(1, 4)})
    with pytest.raises(DreamError, match=r"gives features with no positions .* dream a feature with layer:l:1\.$"):
        Neuron("l", 1)(linear)
    sequence = DreamOutputs(None, torch.tensor([0]), {"l": torch.randn(1, 4, 7)})
    message = (
        r"^layer 'l' has no feature map \(its output is \(7,\) per channel\): a neuron needs a \(channels, height, "
        r"width\) output; use layer:NAME:CHANNEL\.$"
    )
    with pytest.raises(DreamError, match=message):
        Neuron("l", 1)(sequence)


def test_a_gram_matrix_is_each_pair_of_channels_product_averaged_over_positions():
    activation = torch.randn((2, 3, 4, 5), generator=torch.Generator().manual_seed(0))
    features = activation.flatten(2)
    expected = torch.einsum("bcp,bdp->bcd", features, features) / 20
    torch.testing.assert_close(gram_matrix(activation), expected)
    torch.testing.assert_close(gram_matrix(torch.ones(1, 2, 3, 4)), torch.ones(1, 2, 2))


def test_two_items_alike_have_similarity_one_and_an_item_alone_zero_even_without_activation():
    one = torch.rand((1, 4, 5, 5), generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(gram_similarity(one.expand(2, 4, 5, 5)), torch.ones(2))
    torch.testing.assert_close(Diversity("l")(DreamOutputs(None, None, {"l": one.expand(2, 4, 5, 5)})), -torch.ones(2))
    assert torch.equal(gram_similarity(torch.zeros(1, 4, 5, 5)), torch.zeros(1))  # not 0/0
    with pytest.raises(ValueError, match=r"^layer must name a module, e.g. diversity:blocks.4$"):
        Diversity("")


@pytest.mark.parametrize(
    "objective, message",
    [
        (Layer("2", channel=99), r"layer '2' has 16 channels \(0-15\); there is no channel 99\.$"),
        (Neuron("2", channel=-17), r"layer '2' has 16 channels \(0-15\); there is no channel -17\.$"),
        (Layer("2", channel=-1), r"layer '2' has 16 channels \(0-15\); there is no channel -1\.$"),
        (Neuron("5", channel=1), "layer '5' has no feature map"),
    ],
)
def test_a_channel_the_layer_lacks_is_refused_when_the_objective_is_prepared(tiny_model, objective, message):
    """Before the run (``dreamengine run`` prepares before its progress bar starts), not at its first step."""
    with pytest.raises(DreamError, match=message):
        objective.prepare(tiny_model)


def test_a_neuron_dream_changes_only_the_pixels_the_neuron_sees(tiny_model):
    """The tiny model's layer "2" (3x3 after 3x3 stride 2) sees the 3x3 input pixels at the top left for its
    neuron at (0, 0): without transforms, nothing else moves."""
    job = job_for(tiny_model, objective=Neuron(layer="2", channel=5, x=0, y=0), regularizers=[Clamp()])
    result = run_job(job)
    moved = (result.image != job.image).any(dim=1)[0]
    assert moved[:3, :3].any() and not moved[3:].any() and not moved[:, 3:].any()
    with tiny_model.capture(["2"]) as seen:
        tiny_model(result.image)
        after = float(seen["2"][0, 5, 0, 0])
        tiny_model(job.image)
        assert after > float(seen["2"][0, 5, 0, 0])


class Explodes(Objective):
    """Becomes NaN after a few calls, as a run at a too-high learning rate would."""

    def __init__(self):
        self.calls = 0

    def __call__(self, outputs):
        self.calls += 1
        score = outputs.logits[:, 0]
        return score * float("nan") if self.calls > 3 else score


def test_divergence_stops_keeps_the_last_finite_image_and_names_the_lr(tiny_model):
    result = run_job(job_for(tiny_model, objective=Explodes(), lr=0.5))
    assert result.steps_done == 3
    assert torch.isfinite(result.image).all() and torch.isfinite(result.scores).all()
    assert "learning rate 0.5" in result.diverged and "--lr 0.05" in result.diverged


def test_frames_are_kept_every_k_steps_and_the_last_is_the_dream(tiny_model):
    result = run_job(job_for(tiny_model, steps=10, save_every=5))
    assert len(result.frames) == 3  # start, step 5, step 10
    assert torch.equal(result.frames[-1], result.image)
    uneven = run_job(job_for(tiny_model, steps=7, save_every=5))
    assert len(uneven.frames) == 3 and torch.equal(uneven.frames[-1], uneven.image)  # start, step 5, step 7
    assert torch.equal(uneven.frames[1], run_job(job_for(tiny_model, steps=5)).image)


def test_on_step_sees_every_step(tiny_model):
    seen = []
    run_job(job_for(tiny_model, steps=4, on_step=lambda step, scores: seen.append((step, scores.shape))))
    assert seen == [(1, (1,)), (2, (1,)), (3, (1,)), (4, (1,))]


def test_class_index_resolves_names_and_explains_a_model_without_classes():
    from torch import nn

    from dreamengine import DreamError, DreamModel
    from dreamengine.testing import tiny_model

    model = tiny_model()
    assert model.class_index("class2") == 2 and model.class_index("1") == 1
    nameless = DreamModel(nn.Conv2d(3, 4, 1), name="conv-only")
    with pytest.raises(DreamError, match="cannot tell how many classes model 'conv-only' has"):
        nameless.class_index("0")


def test_ctrl_c_keeps_the_last_finished_step(tiny_model):
    def stop_at_step_3(step, scores):
        if step == 3:
            raise KeyboardInterrupt

    with pytest.raises(DreamInterrupted) as stop:
        run_job(job_for(tiny_model, regularizers=[Jitter(2), Clamp()], on_step=stop_at_step_3))
    three_steps = run_job(job_for(tiny_model, regularizers=[Jitter(2), Clamp()], steps=3))
    partial = stop.value.result
    assert isinstance(stop.value, KeyboardInterrupt) and partial.interrupted and partial.steps_done == 3
    assert torch.equal(partial.image, three_steps.image) and torch.equal(partial.scores, three_steps.scores)


class Still(Objective):
    """Zero for any image, even one holding a NaN: only the penalties move the dream, and the score stays finite."""

    def __call__(self, outputs):
        return outputs.logits.nan_to_num(0.0)[:, 0] * 0


@pytest.mark.parametrize("penalty", [L2(weight=1.0, center=0.2), TotalVariation(weight=1.0)])
def test_the_loop_subtracts_each_penalty_from_the_objective_so_the_dream_lowers_it(tiny_model, penalty):
    """Added instead of subtracted, a penalty would be maximised: the dream would saturate and turn to noise."""
    start = torch.rand((1, 3, 16, 16), generator=torch.Generator().manual_seed(1))
    job = replace(job_for(tiny_model, objective=Still(), regularizers=[penalty], steps=10, lr=0.02), image=start)
    result = run_job(job)
    assert float(penalty.penalty(result.image)) < 0.8 * float(penalty.penalty(start))


class Poisons(Regularizer):
    """Writes a NaN into one pixel of the image after the projection phase of step ``at``."""

    def __init__(self, at: int) -> None:
        self.at, self.calls = at, 0

    def project(self, image, generator):
        self.calls += 1
        if self.calls == self.at:
            image = image.clone()
            image[0, 0, 0, 0] = float("nan")
        return image


def test_a_nan_in_the_image_stops_the_run_even_when_the_objective_is_finite(tiny_model):
    result = run_job(job_for(tiny_model, objective=Still(), regularizers=[Poisons(at=3)], steps=6))
    assert result.steps_done == 2 and "diverged at step 3" in result.diverged
    assert torch.isfinite(result.image).all() and torch.isfinite(result.scores).all()


def test_a_nan_in_the_image_at_the_first_step_is_the_dream_error(host, tiny_model):
    job = job_for(tiny_model, objective=Still(), regularizers=[Poisons(at=1)], steps=4)
    with pytest.raises(DreamError, match="diverged at step 1 .*nothing was kept"):
        run_through_hooks(host, job)


def test_a_cross_entropy_dream_raises_its_class_probability_and_lowers_the_loss(tiny_model):
    job = job_for(tiny_model, objective=CrossEntropy(), targets=(2,), regularizers=[Clamp()], lr=0.05)
    result = run_job(job)
    with torch.no_grad():
        before, after = (torch.softmax(tiny_model(image), 1)[0, 2] for image in (job.image, result.image))
        loss = F.cross_entropy(tiny_model(result.image), job.targets)
    assert float(after) > float(before) + 0.05
    torch.testing.assert_close(result.scores, -loss[None], atol=0.05, rtol=0)  # the score is minus the loss


def test_cross_entropy_scores_the_target_class_log_probability():
    logits = torch.tensor([[3.0, 0.0, -1.0], [3.0, 0.0, -1.0]])
    score = CrossEntropy()(DreamOutputs(logits, torch.tensor([0, 2]), {}))
    torch.testing.assert_close(score, torch.log_softmax(logits, 1)[[0, 1], [0, 2]])
    assert score[0] > score[1] and (score <= 0).all()


class Begins(Regularizer):
    """Remembers the start images it was shown."""

    def __init__(self) -> None:
        self.starts: list[torch.Tensor] = []

    def begin(self, image):
        self.starts.append(image.clone())


def test_every_regularizer_of_the_job_is_shown_the_start_image(tiny_model):
    regularizers = [Begins(), Clamp(), Begins(), Begins()]
    job = job_for(tiny_model, regularizers=regularizers, steps=2)
    run_job(job)
    for regularizer in regularizers[::2] + regularizers[3:]:
        assert len(regularizer.starts) == 1 and torch.equal(regularizer.starts[0], job.image)


def test_an_unprepared_logit_and_a_channel_a_layer_lacks_are_refused_in_words():
    outputs = DreamOutputs(torch.zeros(1, 4), torch.tensor([0]), {"l": torch.zeros(1, 4, 3, 3)})
    with pytest.raises(
        DreamError, match=r"^logit:target=red was not prepared with a model \(call prepare\(model\)\)\.$"
    ):
        Logit("red")(outputs)
    with pytest.raises(DreamError, match=r"^layer 'l' has 4 channels \(0-3\); there is no channel 9\.$"):
        Layer("l", channel=9)(outputs)


@pytest.mark.parametrize(
    "step, kept",
    [
        (1, "No step finished: nothing was kept."),
        (2, "The last finite image (step 1) was kept."),
        (3, "The last finite image (step 2) was kept."),
    ],
)
def test_the_divergence_message_names_the_step_the_optimizer_a_tenth_of_the_lr_and_what_was_kept(
    tiny_model, step, kept
):
    job = job_for(tiny_model, optimizer="sgd", lr=0.3)
    assert DreamLoop.divergence_message(job, step) == (
        f"the dream diverged at step {step} (the objective or the image stopped being finite) with sgd at learning "
        f"rate 0.3; try a lower learning rate, e.g. --lr 0.03. {kept}"
    )


class NoFusedKernel(torch.optim.SGD):
    """An optimizer whose fused kernel this device lacks, as an older torch or another device may."""

    def __init__(self, params, lr, fused=None):
        if fused:
            raise RuntimeError("no fused kernel here")
        super().__init__(params, lr=lr)


def _has_fused_kernel(optimizer) -> bool:
    try:
        optimizer([torch.zeros(1, requires_grad=True)], lr=0.1, fused=True)
    except (RuntimeError, ValueError):
        return False
    return True


@pytest.mark.parametrize("optimizer", [torch.optim.Adam, torch.optim.SGD, NoFusedKernel])
def test_an_optimizer_is_fused_where_the_device_has_the_kernel_and_plain_where_it_does_not(optimizer):
    """(:data:`OPTIMIZERS` is built at import: its factory is checked directly, from a generator of tensors.)"""
    pixels = torch.zeros(2, 3, requires_grad=True)
    made = _fused(optimizer)((tensor for tensor in [pixels]), lr=0.25)
    assert type(made) is optimizer and made.param_groups[0]["params"] == [pixels]
    assert made.defaults["lr"] == 0.25 and made.param_groups[0]["lr"] == 0.25
    assert made.defaults["fused"] is (True if _has_fused_kernel(optimizer) else None)
    assert _fused(optimizer).__doc__ == f"{optimizer.__name__}, fused where supported."


def test_a_run_diverging_at_its_first_step_has_no_score_for_each_item_and_no_frames_unless_asked(tiny_model):
    result = run_job(job_for(tiny_model, objective=Still(), regularizers=[Poisons(at=1)], targets=(0, 1), steps=4))
    assert result.steps_done == 0 and result.scores.shape == (2,) and result.scores.isnan().all()
    assert torch.equal(result.image, torch.full((2, 3, 16, 16), 0.5)) and result.frames == []
    assert run_job(job_for(tiny_model, steps=2)).frames == []


def test_a_diverged_or_interrupted_run_keeps_its_frames_and_ends_them_with_its_last_finite_image(tiny_model):
    diverged = run_job(job_for(tiny_model, regularizers=[Poisons(at=4)], steps=6, save_every=2))
    three_steps = run_job(job_for(tiny_model, steps=3, save_every=2))
    assert diverged.steps_done == 3 and torch.equal(diverged.image, three_steps.image)
    assert len(diverged.frames) == 3 and all(map(torch.equal, diverged.frames, three_steps.frames))

    def stop_at_step_3(step, scores):
        if step == 3:
            raise KeyboardInterrupt

    with pytest.raises(DreamInterrupted) as stop:
        run_job(job_for(tiny_model, steps=6, save_every=2, on_step=stop_at_step_3))
    frames = stop.value.result.frames
    assert len(frames) == 3 and all(map(torch.equal, frames, three_steps.frames))
