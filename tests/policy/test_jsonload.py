"""sidecar.policy.jsonload: strict JSON with duplicate-key tracking (reference §1.1, §1.7)."""

from __future__ import annotations

import json

import pytest

from sidecar.policy.jsonload import JsonNumber, JsonObject, compact_size, loads, to_plain


def test_objects_are_json_objects_without_duplicates() -> None:
    value = loads('{"a": 1, "b": {"c": [1, {"d": 2}]}}')
    assert isinstance(value, JsonObject)
    assert value.duplicates == ()
    assert isinstance(value["b"], JsonObject)
    assert isinstance(value["b"]["c"][1], JsonObject)


def test_duplicate_key_is_recorded_once_and_last_value_wins() -> None:
    value = loads('{"a": 1, "b": 2, "a": 3, "a": 4}')
    assert value.duplicates == ("a",)
    assert str(value["a"]) == "4"
    assert list(value) == ["a", "b"]


def test_several_duplicate_keys_in_order_of_first_repeat() -> None:
    value = loads('{"x": 1, "y": 1, "y": 2, "x": 2}')
    assert value.duplicates == ("y", "x")


def test_nested_duplicates_belong_to_their_own_object() -> None:
    value = loads('{"S": [{"E": 1, "E": 2}], "T": {"k": 1}}')
    assert value.duplicates == ()
    assert value["S"][0].duplicates == ("E",)
    assert value["T"].duplicates == ()


def test_keys_differing_in_case_are_not_duplicates() -> None:
    value = loads('{"Effect": 1, "effect": 2}')
    assert value.duplicates == ()


def test_numbers_keep_their_text() -> None:
    value = loads('{"i": 10, "f": 10.0, "n": -3, "e": 1e3}')
    assert isinstance(value["i"], JsonNumber)
    assert str(value["i"]) == "10"
    assert str(value["f"]) == "10.0"
    assert str(value["n"]) == "-3"
    assert str(value["e"]) == "1e3"
    assert value["i"].value() == 10
    assert isinstance(value["i"].value(), int)
    assert value["f"].value() == 10.0
    assert isinstance(value["f"].value(), float)


def test_json_number_equality_is_by_text() -> None:
    assert JsonNumber("10") == JsonNumber("10")
    assert JsonNumber("10") != JsonNumber("10.0")
    assert JsonNumber("10") != 10
    assert hash(JsonNumber("7")) == hash(JsonNumber("7"))
    assert repr(JsonNumber("7")) == "JsonNumber(7)"


def test_strings_booleans_null() -> None:
    value = loads('["s", true, false, null]')
    assert value == ["s", True, False, None]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_standard_constants_are_rejected(constant: str) -> None:
    with pytest.raises(ValueError):
        loads(f'{{"a": {constant}}}')


@pytest.mark.parametrize("text", ["", "{", '{"a": 1,}', "{'a': 1}", '{"a": 1} {"b": 2}', "[1, 2"])
def test_invalid_json_raises_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        loads(text)


def test_bytes_are_decoded_as_utf8() -> None:
    value = loads('{"a": "é"}'.encode())
    assert value["a"] == "é"
    with pytest.raises(ValueError):
        loads(b'{"a": "\xff"}')


def test_to_plain_converts_numbers_and_objects() -> None:
    plain = to_plain(loads('{"a": [1, 2.5, {"b": "x"}], "c": true}'))
    assert plain == {"a": [1, 2.5, {"b": "x"}], "c": True}
    assert type(plain) is dict
    assert type(plain["a"][2]) is dict
    assert type(plain["a"][0]) is int


def test_compact_size_ignores_insignificant_whitespace() -> None:
    spaced = '{\n  "Version" : "2012-10-17",\n\t"Statement" : [ { "Effect" : "Allow" } ]\n}'
    compact = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow"}]}'
    assert compact_size(loads(spaced)) == len(compact)
    assert compact_size(loads(compact)) == len(compact)


def test_compact_size_counts_whitespace_inside_strings_and_non_ascii_once() -> None:
    assert compact_size(loads('{"a": "x y"}')) == len('{"a":"x y"}')
    assert compact_size(loads('{"a": "é"}')) == len('{"a":"é"}')
    assert compact_size(loads('{"a":"é"}')) == len(
        json.dumps({"a": "é"}, ensure_ascii=False).replace(" ", "")
    )


@pytest.mark.parametrize(
    "text",
    [
        '{"a":1.0000000000000000000000001}',
        '{"a":1e5}',
        '{"a":1.5e999}',
        '{"a":1' + "0" * 5000 + "}",
    ],
)
def test_compact_size_measures_numbers_as_written(text: str) -> None:
    assert compact_size(loads(text)) == len(text)


@pytest.mark.parametrize("text", ['{"a":10}', '{"a":-2.5}', '{"a":[1,2.25,-3]}', '{"a":0.1}'])
def test_compact_size_of_ordinary_numbers(text: str) -> None:
    assert compact_size(loads(text)) == len(text)
