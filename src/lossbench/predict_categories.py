"""Categories of rows to predict that the model never saw: matched where that is safe, else
named in a warning.

    >>> codes = np.array([[0.0], [1.0], [2.0], [1.0]], dtype=np.float32)
    >>> given, notes = match_categories(
    ...     codes, ["color"], {"color": ["Red", "blue", "red"]}, {"color": ["blue", "red"]}
    ... )
    >>> print(notes[0])  # doctest: +NORMALIZE_WHITESPACE
    feature column 'color': 1 of 4 rows have categories the model never saw ('Red' (did you mean
    'red'?)): they are encoded as no known category (all zeros), which can change their
    predictions. Known categories: 'blue', 'red'.
    >>> match_categories(codes, ["zip"], {"zip": ["10115.0", "10117"]},
    ...                  {"zip": ["10115", "10117"]})[0]
    {'zip': ['10115', '10117']}

A category training never saw is one-hot encoded as all zeros (as scikit-learn's
``OneHotEncoder(handle_unknown="ignore")`` does): the prediction is still made, but a spelling
of a known category (``Red`` for ``red``) silently becomes "none of them". So every categorical
column with unseen values gets one warning: how many rows, a few of the values, the known
category each resembles (same letters in another case, or :mod:`difflib`'s closest; for integer
codes, only the same integer), and the known categories.

One spelling is matched instead: integer codes written as decimals. When every category of a
column in training is an integer (``10115``) or an integer written with a zero fraction
(``10115.0``, as pandas writes an integer column that has a missing value), and no two of them
are the same integer so written, a value of the other spelling (``10115.0`` for ``10115``, or
the other way round) is the category of the same digits. Leading zeros count
(``01067`` is not ``1067.0``), so no two different codes are merged.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence

import numpy as np

#: Example values a warning names per column.
EXAMPLES = 3
#: Known categories a warning lists per column.
KNOWN = 10

#: An integer code, optionally written with a zero fraction: the digits are group 1.
INTEGER_CODE = re.compile(r"([+-]?\d+)(?:\.0*)?")
_INTEGER = INTEGER_CODE


class UnseenCategoryWarning(UserWarning):
    """Rows to predict hold categories the model never saw (encoded as all zeros)."""


def _integer_spellings(seen: Sequence[str]) -> dict[str, str]:
    """The digits of each training category -> the category, when every one is an integer code
    and no two share digits; else empty (nothing is matched)."""
    digits: dict[str, str] = {}
    for value in seen:
        match = _INTEGER.fullmatch(value)
        if match is None or match.group(1) in digits:
            return {}
        digits[match.group(1)] = value
    return digits


def _resembles(value: str, seen: Sequence[str], integer_codes: bool) -> str | None:
    """The known category that ``value`` most likely meant, or None. Integer codes resemble
    only the same integer (``1067.0`` and ``01067``): close digits are another code."""
    if integer_codes:
        match = _INTEGER.fullmatch(value)
        same = [k for k in seen if match and int(_INTEGER.fullmatch(k)[1]) == int(match[1])]
        return same[0] if same else None
    same_case = [known for known in seen if known.casefold() == value.casefold()]
    close = same_case or difflib.get_close_matches(value, list(seen), n=1)
    return close[0] if close else None


def _names(values: Sequence[str], limit: int) -> str:
    shown = ", ".join(repr(v) for v in values[:limit])
    return shown + (f", ... ({len(values)} in all)" if len(values) > limit else "")


def match_categories(
    features: np.ndarray,
    feature_names: Sequence[str],
    given: Mapping[str, Sequence[str]],
    seen: Mapping[str, Sequence[str]],
) -> tuple[dict[str, list[str]], list[str]]:
    """Match the categories of rows to predict to the model's, and describe the rest.

    Args:
        features: ``(N, F)`` rows, categorical columns as codes into ``given`` (NaN: missing,
            which the preprocessing imputes or refuses).
        feature_names: the ``F`` column names.
        given: categorical column -> the categories of the rows (the text of each code).
        seen: categorical column -> the categories seen in training (the checkpoint's).

    Returns:
        ``given`` with integer codes respelled as training wrote them (module docstring), and
        one warning message per column whose rows hold categories training never saw.
    """
    matched: dict[str, list[str]] = {}
    notes: list[str] = []
    index = {name: j for j, name in enumerate(feature_names)}
    for name, known in seen.items():
        values = [str(v) for v in given.get(name, [])]
        known_set = set(known)
        spellings = _integer_spellings(known)
        if spellings:
            for k, value in enumerate(values):
                match = _INTEGER.fullmatch(value)
                if value not in known_set and match and match.group(1) in spellings:
                    values[k] = spellings[match.group(1)]
        matched[name] = values
        codes = features[:, index[name]]
        present = codes[~np.isnan(codes)].astype(np.int64)
        counts = np.bincount(present, minlength=len(values))
        unseen = [k for k, value in enumerate(values) if value not in known_set and counts[k]]
        if not unseen:
            continue
        rows = int(sum(counts[k] for k in unseen))
        unseen.sort(key=lambda k: -counts[k])  # the most frequent first (stable: then by name)
        examples = []
        for k in unseen[:EXAMPLES]:
            close = _resembles(values[k], known, bool(spellings))
            examples.append(repr(values[k]) + (f" (did you mean {close!r}?)" if close else ""))
        more = f"; {len(unseen)} distinct" if len(unseen) > EXAMPLES else ""
        notes.append(
            f"feature column {name!r}: {rows} of {len(codes)} rows have categories the model "
            f"never saw ({', '.join(examples)}{more}): they are encoded as no known category "
            "(all zeros), which can change their predictions. Known categories: "
            f"{_names(list(known), KNOWN)}."
        )
    return matched, notes
