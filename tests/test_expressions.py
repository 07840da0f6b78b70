"""Objective expressions: parsing (with hypothesis), building, clear errors, and dreaming with them."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from dreamengine import DreamError, DreamOutputs, RunConfig
from dreamengine.options import parse_spec
from dreamengine.run.expression_syntax import ObjectiveSpec, Term, expression_text, parse_expression, parse_objective
from dreamengine.run.prepare import build_components
from dreamengine.testing import make_host, tiny_model
from dreamengine_builtins.objectives import gram_similarity

names = st.sampled_from(["logit", "layer", "cross-entropy", "tv", "diversity", "l2"])
values = st.from_regex(r"[a-z][a-z0-9.]{0,6}", fullmatch=True)
specs = st.builds(
    lambda name, pos, kw: ":".join([name, *pos, *(f"k{i}={v}" for i, v in enumerate(kw))]),
    names,
    st.lists(values, max_size=2),
    st.lists(values, max_size=2),
)
coefficients = st.floats(0.001, 1000, allow_nan=False).map(lambda x: float(f"{x:.4g}"))


@given(st.lists(st.tuples(st.sampled_from([1.0, -1.0]), coefficients, specs), min_size=1, max_size=4))
def test_an_expression_parses_into_its_terms(terms):
    text = ""
    for index, (sign, coefficient, spec) in enumerate(terms):
        operator = ("- " if sign < 0 else "+ ") if index else ("-" if sign < 0 else "")
        text += f" {operator}{coefficient!r}*{spec}"
    parsed = parse_expression(text)
    assert [t.coefficient for t in parsed] == [sign * c for sign, c, _ in terms]
    assert [str(t.spec) for t in parsed] == [spec for _, _, spec in terms]


@given(
    st.lists(
        st.lists(st.tuples(st.sampled_from([1.0, -1.0]), coefficients, specs), min_size=1, max_size=3),
        min_size=1,
        max_size=3,
    )
)
def test_an_objective_built_from_terms_is_written_as_text_that_parses_into_them(parts):
    built = ObjectiveSpec.side_by_side(*([Term(sign * c, parse_spec(spec)) for sign, c, spec in p] for p in parts))
    assert parse_objective(built.text) == built


def test_the_text_of_terms_writes_a_first_weight_of_one_bare_and_every_later_weight():
    def terms(*pairs):
        return [Term(weight, parse_spec(spec)) for weight, spec in pairs]

    assert expression_text(terms((1.0, "layer:a:3"), (1.0, "diversity:a"))) == "layer:a:3 + 1*diversity:a"
    assert expression_text(terms((-0.5, "tv"), (2.0, "logit"), (-0.01, "l2"))) == "-0.5*tv + 2*logit - 0.01*l2"
    assert ObjectiveSpec.side_by_side(terms((1.0, "layer:b:0")), terms((1.0, "layer:b:1"))).text == (
        "layer:b:0; layer:b:1"
    )


def test_a_run_config_keeps_an_objective_and_a_size_given_as_objects_as_their_text():
    objective = ObjectiveSpec.side_by_side([Term(1.0, parse_spec("logit")), Term(0.5, parse_spec("tv"))])
    config = RunConfig().updated({"objective": objective, "size": (24, 32)}, "a test")
    assert (config.objective, config.size) == ("logit + 0.5*tv", "32x24")
    assert RunConfig(size=(16, 16)).size == 16 and config.specs.objective == objective


@given(specs)
def test_a_plain_spec_is_one_term_with_coefficient_one(spec):
    (term,) = parse_expression(spec)
    assert term.coefficient == 1.0 and term.spec == parse_spec(spec)


def test_hyphens_in_names_and_values_are_not_operators():
    terms = parse_expression("cross-entropy - 0.5*layer:layer=a-b + 2e-3*tv")
    assert [(t.coefficient, str(t.spec)) for t in terms] == [
        (1.0, "cross-entropy"),
        (-0.5, "layer:layer=a-b"),
        (0.002, "tv"),
    ]


@pytest.mark.parametrize(
    "text, position, expected",
    [
        ("logit + ", 9, "a term"),
        ("logit + + tv", 9, "a term"),
        ("0.5*", 5, "one component spec"),
        ("logit - x*tv", 10, "a number before '*'"),
        ("logit + 0.5*tv*2", 15, "one component spec"),
        ("1e400*logit", 1, "a weight a float can hold, not 1e400"),
    ],
)
def test_malformed_expressions_name_the_position_and_what_was_expected(text, position, expected):
    with pytest.raises(DreamError, match=rf"at position {position}: expected {expected}"):
        parse_expression(text)


def build(objective: str, **settings):
    host = make_host()
    config = RunConfig(objective=objective, **settings)
    objective, regularizers, *_ = build_components(host, config)
    objective.prepare(tiny_model())
    return objective, regularizers


def outputs_of(objective, image, targets=(1, 1)):
    model = tiny_model()
    with model.capture(objective.layers) as activations:
        return objective(DreamOutputs(model(image), torch.tensor(targets), activations)), model


def test_an_expression_is_the_weighted_sum_of_its_terms_and_penalties():
    image = torch.rand((2, 3, 16, 16), generator=torch.Generator().manual_seed(0))
    objective, regularizers = build("logit:class2 + 0.5*layer:relu2:3 - 0.25*tv")
    value, model = outputs_of(objective, image)
    with model.capture(["relu2"]) as activations:
        logits = model(image)
    expected = logits[:, 2] + 0.5 * activations["relu2"][:, 3].flatten(1).mean(1)
    torch.testing.assert_close(value, expected)
    (tv,) = [r for r in regularizers if "penalty" in r.phases()]
    from dreamengine_builtins.penalties import total_variation

    torch.testing.assert_close(tv.penalty(image), 0.25 * total_variation(image))


def test_logit_of_a_named_class_resolves_against_the_model_and_errors_suggest():
    objective, _ = build("logit:class3 + logit:0")
    value, model = outputs_of(objective, torch.full((2, 3, 16, 16), 0.5))
    logits = model(torch.full((2, 3, 16, 16), 0.5))
    torch.testing.assert_close(value, logits[:, 3] + logits[:, 0])
    with pytest.raises(DreamError, match="Did you mean 'class3'"):
        build("logit:clas3 + tv")


def test_options_by_name_reach_the_terms_and_unknown_terms_suggest():
    objective, regularizers = build("layer:relu2 - tv", options={"tv": {"weight": 3.0}})
    assert regularizers[-1].regularizer.weight == 3.0
    with pytest.raises(DreamError, match="Did you mean 'logit'"):
        build("logitt + tv")
    with pytest.raises(DreamError, match="no objective term"):
        build("- 0.1*tv")


def test_diversity_is_minus_the_mean_gram_similarity_and_zero_for_one_item():
    same = torch.rand((1, 4, 5, 5), generator=torch.Generator().manual_seed(0)).expand(3, 4, 5, 5)
    torch.testing.assert_close(gram_similarity(same), torch.ones(3))
    assert torch.equal(gram_similarity(same[:1]), torch.zeros(1))


def test_dreaming_with_a_diversity_term_makes_the_batch_less_alike():
    from dreamengine.engine.loop import run_job
    from dreamengine.run.prepare import build_job

    def similarity(objective):
        config = RunConfig(
            size=16,
            steps=10,
            classes=["1", "1", "1"],
            init="noise",
            param="pixel",
            reg=["clamp"],
            objective=objective,
            lr=0.05,
        )
        model = tiny_model()
        job, _ = build_job(make_host(), config, model, torch.device("cpu"))
        image = run_job(job).image
        with model.capture(["relu1"]) as activations:
            model(image)
        return float(gram_similarity(activations["relu1"]).mean())

    plain, diverse = similarity("layer:relu1"), similarity("layer:relu1 + 20*diversity:relu1")
    assert diverse < plain - 0.01


@pytest.mark.parametrize(
    "text, needs_logits",
    [
        ("layer:relu1 + 0.5*diversity:relu2", False),
        ("layer:relu1 - 0.1*tv", False),
        ("logit:class2 + 0.5*layer:relu2", True),
    ],
)
def test_an_expression_lets_the_forward_stop_early_only_when_no_term_needs_logits(text, needs_logits):
    objective, _ = build(text)
    assert objective.needs_logits is needs_logits
    assert objective.layers == tuple(dict.fromkeys(layer for _, part in objective.parts for layer in part.layers))


@pytest.mark.parametrize(
    "objective, uses_classes",
    [
        ("logit", True),
        ("cross-entropy", True),
        ("logit:class2", False),
        ("layer:conv1", False),
        ("logit + 0.5*layer:conv1", True),
        ("logit:class2 + 0.5*layer:conv1 - 0.01*tv", False),
        ("layer:conv1 + 0.5*diversity:conv1", False),
    ],
)
def test_an_objective_says_whether_it_dreams_each_items_class(objective, uses_classes):
    built = build_components(make_host(), RunConfig(objective=objective))[0]
    assert built.uses_classes is uses_classes


def test_objectives_separated_by_semicolons_are_one_per_dream_of_the_batch():
    image = torch.rand((3, 3, 16, 16), generator=torch.Generator().manual_seed(0))
    objective, regularizers = build("layer:relu2:3; logit:class2 + layer:relu1 ;logit")
    assert objective.texts == ["layer:relu2:3", "logit:class2 + layer:relu1", "logit"]
    assert objective.layers == ("relu2", "relu1") and objective.needs_logits and objective.uses_classes
    value, model = outputs_of(objective, image, targets=(0, 0, 1))
    with model.capture(["relu1", "relu2"]) as activations:
        logits = model(image)
    expected = torch.stack(
        [activations["relu2"][0, 3].mean(), logits[1, 2] + activations["relu1"][1].pow(2).mean(), logits[2, 1]]
    )
    torch.testing.assert_close(value, expected)
    assert not build("layer:relu2:0; layer:relu2:1")[0].uses_classes


@pytest.mark.parametrize(
    "text, message",
    [
        ("logit;; layer:relu1", "an empty objective between ';'s"),
        ("logit; layer:relu1 - 0.1*tv", "take no penalty terms; add one for them all to --reg"),
        ("logit; layr:relu1", "Did you mean 'layer'"),
    ],
)
def test_a_list_of_objectives_refuses_empty_places_penalties_and_unknown_names(text, message):
    with pytest.raises(DreamError, match=message):
        build(text)


def test_a_list_of_objectives_dreams_one_file_each_with_one_class_for_all_or_one_each(
    runner, tmp_path, builtins_only_cli
):
    from dreamengine.cli import cli
    from dreamengine.run.imaging import read_manifest

    args = ["run", "--model", "resnet10t", "--size", "32", "--steps", "2", "--strategy", "none", "-o", str(tmp_path)]
    result = runner.invoke(cli, [*args, "--objective", "layer:layer2:0; layer:layer2:1; logit", "-c", "toucan"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [
        "layer-layer2-0-seed0.png",
        "layer-layer2-1-seed0.png",
        "toucan-seed0.png",
    ]
    one = read_manifest(tmp_path / "layer-layer2-1-seed0.png")
    assert one["target"] is None and one["part"] == {"item": 1, "objective": "layer:layer2:1"}
    toucan = read_manifest(tmp_path / "toucan-seed0.png")
    assert toucan["target"] == {"index": 96, "name": "toucan", "item": 2}
    assert toucan["part"] == {"item": 2, "objective": "logit"}
    assert "│ layer:layer2:1 │" in result.output  # the table names each dream
    paired = runner.invoke(cli, [*args, "--objective", "logit; cross-entropy", "-c", "goose", "-c", "robin"])
    assert paired.exit_code == 0, paired.output
    assert (tmp_path / "goose-seed0.png").exists() and (tmp_path / "robin-seed0.png").exists()
    wrong = runner.invoke(cli, [*args, "--objective", "logit; cross-entropy", "-c", "goose", "-c", "robin", "-c", "1"])
    assert wrong.exit_code == 1 and "give one --class for them all, or 2, one each" in wrong.output
