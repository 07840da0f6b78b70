"""Class names: what the user types, resolved to one class or refused with the candidates."""

import pytest
import torch

from dreamengine import DreamError, DreamModel
from dreamengine.cli import cli
from dreamengine.engine.classes import display_name, find_classes, name_for, resolve_class, slug

# Shaped like ImageNet's descriptions: synonyms separated by commas, and names that several classes share.
NAMES = [
    "crane",  # 0: the bird
    "lesser panda, red panda, panda, bear cat, cat bear",
    "giant panda, panda, panda bear",
    "tabby, tabby cat",
    "tiger cat",
    "bathtub, bathing tub, bath, tub",
    "tub, vat",
    "crane",  # 7: the machine
    "",  # 8: unnamed
]


def resolve(text):
    return resolve_class(text, NAMES, len(NAMES))


def test_a_name_or_synonym_resolves_case_insensitively():
    assert resolve("Tabby") == 3 and resolve("tabby cat") == 3 and resolve("giant panda") == 2
    assert resolve("tabby, tabby cat") == 3  # the whole description
    assert resolve("4") == 4


def test_a_dataset_of_numbered_folders_resolves_a_number_to_its_folder_not_its_position():
    """Class folders sort as text (0, 1, 10, 100, 101, 2, ...): -c 10 is the folder named 10, not position 10."""
    numbered = sorted(str(n) for n in range(120))
    assert numbered[:4] == ["0", "1", "10", "100"]
    assert [numbered[resolve_class(t, numbered, 120)] for t in ("10", "2", "119", "0")] == ["10", "2", "119", "0"]
    assert resolve_class("5", ["cat", "dog", "5"], 3) == 2 and resolve_class("1", ["cat", "dog", "5"], 3) == 1


def test_a_shared_name_goes_to_the_one_class_it_is_the_first_name_of():
    assert resolve("tub") == 6


@pytest.mark.parametrize(
    "text, candidates",
    [
        ("panda", "1 (lesser panda, red panda, panda, bear cat, cat bear); 2 (giant panda, panda, panda bear)"),
        ("crane", "0 (crane); 7 (crane)"),
    ],
)
def test_an_ambiguous_name_is_refused_with_the_candidates_by_index(text, candidates):
    with pytest.raises(DreamError) as error:
        resolve(text)
    assert str(error.value) == (
        f"class name {text!r} is ambiguous: it names classes {candidates}. "
        f"Give the index instead, e.g. {candidates.split()[0]}."
    )


def test_suggestions_name_each_class_once():
    with pytest.raises(DreamError) as error:
        resolve("cat")
    # 'bear cat' and 'cat bear' are the same class: only the closer is suggested.
    assert str(error.value).startswith("unknown class 'cat'. Did you mean 'bear cat' or 'tabby cat' or 'tiger cat'? ")


def test_name_for_is_a_name_that_resolves_back_to_the_same_class():
    assert [name_for(NAMES, i) for i in range(len(NAMES))] == [
        "0",
        "lesser panda",
        "giant panda",
        "tabby",
        "tiger cat",
        "bathtub",
        "tub",
        "7",
        "8",
    ]
    assert all(resolve(name_for(NAMES, i)) == i for i in range(len(NAMES)))


def test_a_class_without_a_name_is_called_by_its_index():
    assert [display_name(["tabby, tabby cat", " "], i) for i in range(3)] == ["tabby", "class-1", "class-2"]


def test_name_for_is_the_index_where_the_first_name_resolves_to_another_class():
    names = ["cat, tabby", "cat", "1, one", "7, seven"]
    # "cat" is class 1's whole name; "1" is index 1; "7" is no index of these 4 classes
    assert [name_for(names, i) for i in range(len(names))] == ["0", "cat", "2", "3"]


def test_a_model_with_few_classes_lists_them_all_for_an_unknown_name_and_one_with_many_names_the_command():
    few = ["blue-discs", "green-horizontal", "red-vertical"]
    with pytest.raises(DreamError) as error:
        resolve_class("flamingo", few, 3)
    assert str(error.value) == "unknown class 'flamingo'. Available: blue-discs, green-horizontal, red-vertical."
    with pytest.raises(DreamError) as error:
        resolve_class("flamingo", [f"class {i}" for i in range(31)], 31)
    assert "Available" not in str(error.value)  # a long list is not printed: the command that searches it is named
    assert str(error.value).endswith("`dreamengine classes WORD` finds classes by name.")


def test_an_index_out_of_range_or_a_name_without_class_names_is_refused_with_the_range():
    with pytest.raises(DreamError) as error:
        resolve("9")
    assert str(error.value) == "class index 9 is out of range: the model has 9 classes (0-8)."
    with pytest.raises(DreamError) as error:
        resolve_class("tabby", [], 5)
    assert str(error.value) == "this model has no class names; give --class as an index from 0 to 4."


def test_thirty_classes_are_all_listed_and_more_are_not():
    thirty = [f"kind {n:02d}" for n in range(30)]
    with pytest.raises(DreamError) as error:
        resolve_class("flamingo", thirty, 30)
    assert str(error.value) == f"unknown class 'flamingo'. Available: {', '.join(thirty)}."
    many = ["tabby cat, house cat", "tiger cat", *thirty]
    with pytest.raises(DreamError) as error:
        resolve_class("cat", many, 32)
    assert str(error.value) == (  # one suggestion per class: not both names of the tabby
        "unknown class 'cat'. Did you mean 'house cat' or 'tiger cat'? "
        "`dreamengine classes WORD` finds classes by name."
    )


def test_find_classes_by_the_start_of_a_word_by_wildcards_or_by_index():
    assert find_classes(NAMES) == list(range(len(NAMES)))
    assert find_classes(NAMES, "cat") == [1, 3, 4]  # "bear cat", "tabby cat", "tiger cat"
    assert find_classes(NAMES, "at") == []  # inside a word: "bathtub" and "cat" are not found
    assert find_classes(NAMES, "PANDA") == [1, 2]
    assert find_classes(NAMES, "tub*") == [5, 6]  # one of the names starts so: "tub", not "bathtub"
    assert find_classes(NAMES, "*tub") == [5, 6]
    assert find_classes(NAMES, "t?bby") == [3]
    assert find_classes(NAMES, "tub, vat") == [6]  # the whole description
    assert find_classes(NAMES, "Tub, V*") == [6]  # the whole description, by wildcards
    assert find_classes(NAMES, "7") == [7] and find_classes(NAMES, "9") == []


def test_find_classes_reads_a_number_as_class_does_in_a_dataset_of_numbered_folders():
    folders = [str(n) for n in sorted(range(12), key=str)]  # 0, 1, 10, 11, 2, ...
    assert find_classes(folders, "10") == [folders.index("10")] == [2]


def _rows(output):
    return [[cell.strip() for cell in line.split("│")[1:4]] for line in output.splitlines() if line.startswith("│")]


@pytest.mark.usefixtures("builtins_only_cli")
def test_the_command_lists_imagenet_classes_with_the_name_that_class_takes(runner):
    result = runner.invoke(cli, ["classes", "owl"])  # not bowl, howler or prairie fowl
    assert result.exit_code == 0, result.output
    assert _rows(result.output) == [["24", "great grey owl", "great grey owl, great gray owl, Strix nebulosa"]]
    assert "Classes of efficientnet-lite0: 1 of 1000" in result.output
    cranes = runner.invoke(cli, ["classes", "crane"])
    assert _rows(cranes.output) == [["134", "134", "crane"], ["517", "517", "crane"]]  # a shared name: the index
    everything = runner.invoke(cli, ["classes"])
    assert len(_rows(everything.output)) == 1000 and _rows(everything.output)[130][1] == "flamingo"


@pytest.mark.usefixtures("builtins_only_cli")
def test_the_command_lists_a_checkpoints_classes_and_refuses_a_pattern_that_matches_none(runner, checkpoints):
    checkpoint = str(checkpoints / "epoch-001.pt")
    result = runner.invoke(cli, ["classes", "--checkpoint", checkpoint])
    assert result.exit_code == 0, result.output
    assert [row[1] for row in _rows(result.output)] == [
        "blue-discs",
        "green-horizontal",
        "red-vertical",
        "yellow-checks",
    ]
    missing = runner.invoke(cli, ["classes", "--checkpoint", checkpoint, "owl"])
    assert missing.exit_code == 1 and "no class of test_resnet matches 'owl' (it has 4" in missing.output


@pytest.mark.usefixtures("builtins_only_cli")
def test_a_model_without_class_names_says_to_give_an_index(runner, monkeypatch):
    net = torch.nn.Linear(3, 5)
    net.num_classes = 5
    monkeypatch.setattr("dreamengine.run.prepare.load_model", lambda host, config: DreamModel(net, name="nameless"))
    result = runner.invoke(cli, ["classes"])
    assert (
        result.exit_code == 1 and "nameless has no class names: give --class as an index from 0 to 4." in result.output
    )


def test_a_slug_is_the_name_in_lower_case_words_joined_by_hyphens():
    assert slug(" Great Grey Owl, Strix nebulosa ") == "great-grey-owl-strix-nebulosa"
    assert slug("--7--") == "7" and slug("!?") == "class" and slug("") == "class"
