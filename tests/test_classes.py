"""Class names: what the user types, resolved to one class or refused with the candidates."""

import pytest

from dreamengine import DreamError
from dreamengine.classes import name_for, resolve_class

# Shaped like ImageNet's descriptions: synonyms separated by commas, and names that several classes share.
NAMES = [
    "crane",                                     # 0: the bird
    "lesser panda, red panda, panda, bear cat, cat bear",
    "giant panda, panda, panda bear",
    "tabby, tabby cat",
    "tiger cat",
    "bathtub, bathing tub, bath, tub",
    "tub, vat",
    "crane",                                     # 7: the machine
    "",                                          # 8: unnamed
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


@pytest.mark.parametrize("text, candidates", [("panda", "1 (lesser panda, red panda, panda, bear cat, cat bear); "
                                                        "2 (giant panda, panda, panda bear)"),
                                               ("crane", "0 (crane); 7 (crane)")])
def test_an_ambiguous_name_is_refused_with_the_candidates_by_index(text, candidates):
    with pytest.raises(DreamError) as error:
        resolve(text)
    assert str(error.value) == (f"class name {text!r} is ambiguous: it names classes {candidates}. "
                                f"Give the index instead, e.g. {candidates.split()[0]}.")


def test_suggestions_name_each_class_once():
    with pytest.raises(DreamError) as error:
        resolve("cat")
    # 'bear cat' and 'cat bear' are the same class: only the closer is suggested.
    assert str(error.value).startswith("unknown class 'cat'. Did you mean 'bear cat' or 'tabby cat' or 'tiger cat'? ")


def test_name_for_is_a_name_that_resolves_back_to_the_same_class():
    assert [name_for(NAMES, i) for i in range(len(NAMES))] == [
        "0", "lesser panda", "giant panda", "tabby", "tiger cat", "bathtub", "tub", "7", "8"]
    assert all(resolve(name_for(NAMES, i)) == i for i in range(len(NAMES)))


def test_a_model_with_few_classes_lists_them_all_for_an_unknown_name():
    few = ["blue-discs", "green-horizontal", "red-vertical"]
    with pytest.raises(DreamError) as error:
        resolve_class("flamingo", few, 3)
    assert str(error.value) == "unknown class 'flamingo'. Available: blue-discs, green-horizontal, red-vertical."
    with pytest.raises(DreamError) as error:
        resolve_class("flamingo", [f"class {i}" for i in range(31)], 31)
    assert "Available" not in str(error.value)  # a long list is not printed
