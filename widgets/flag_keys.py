"""The flagging keys and badges: one table read by key presses, badge painting and the `?` help.

Labels are plain strings: "bad", "good", "memorized" and the custom labels "1".."9".
A label with the SUGGESTED_PREFIX ("?bad") is a suggestion the person has not confirmed yet;
badges draw it hollow. `flagRequested(CLEAR, False, ids)` asks to remove every flag of ids.
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt

from . import theme

BAD, GOOD, MEMORIZED = "bad", "good", "memorized"
CUSTOM = tuple(str(i) for i in range(1, 10))
CLEAR = "*"
SUGGESTED_PREFIX = "?"

# Qt.Key is an IntEnum: QKeyEvent.key() ints look these up directly.
_LETTER_KEYS = {Qt.Key.Key_B: BAD, Qt.Key.Key_G: GOOD, Qt.Key.Key_M: MEMORIZED}
_DIGIT_KEYS = {Qt.Key.Key_1 + i: label for i, label in enumerate(CUSTOM)}
# Shift+digit arrives as the symbol above the digit (US layout) on most platforms.
_SHIFTED_DIGIT_KEYS = dict(
    zip(
        (
            Qt.Key.Key_Exclam,
            Qt.Key.Key_At,
            Qt.Key.Key_NumberSign,
            Qt.Key.Key_Dollar,
            Qt.Key.Key_Percent,
            Qt.Key.Key_AsciiCircum,
            Qt.Key.Key_Ampersand,
            Qt.Key.Key_Asterisk,
            Qt.Key.Key_ParenLeft,
        ),
        CUSTOM,
    )
)
_BLOCKING_MODIFIERS = (
    Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.MetaModifier
)

# label -> (letter on the chip, chip colour); custom labels share one colour, the digit tells them apart.
_BADGES = {BAD: ("B", theme.FLAGGED.name()), MEMORIZED: ("M", "#8e44ad"), GOOD: ("G", "#2e9e44")}
_CUSTOM_COLOUR = "#2f6fb3"
_OTHER_COLOUR = "#6c757d"
_RANK = {label: i for i, label in enumerate((BAD, MEMORIZED, GOOD, *CUSTOM))}


def flag_action(key: int | Qt.Key, modifiers: Qt.KeyboardModifier) -> tuple[str, bool] | None:
    """(label, add) for a key press, or None when it is not a flag key. Shift removes."""
    if modifiers & _BLOCKING_MODIFIERS:
        return None
    shift = bool(modifiers & Qt.KeyboardModifier.ShiftModifier)
    if key == Qt.Key.Key_U:
        return CLEAR, False
    if key in _LETTER_KEYS:
        return _LETTER_KEYS[key], not shift
    if key in _DIGIT_KEYS:
        return _DIGIT_KEYS[key], not shift
    if key in _SHIFTED_DIGIT_KEYS:
        return _SHIFTED_DIGIT_KEYS[key], False
    return None


def is_help_key(key: int | Qt.Key) -> bool:
    return key == Qt.Key.Key_Question


def badge(label: str) -> tuple[str, str, bool]:
    """(letter, colour, suggested) of a label's chip."""
    suggested = label.startswith(SUGGESTED_PREFIX)
    name = label[len(SUGGESTED_PREFIX) :] if suggested else label
    if name in _BADGES:
        letter, colour = _BADGES[name]
    elif name in CUSTOM:
        letter, colour = name, _CUSTOM_COLOUR
    else:
        letter, colour = (name[:1].upper() or "?"), _OTHER_COLOUR
    return letter, colour, suggested


def badge_order(labels: frozenset[str] | set[str]) -> list[str]:
    """Labels in the order their chips are drawn: bad, memorized, good, 1..9, others by name."""

    def key(label: str) -> tuple[int, str]:
        return _RANK.get(label.removeprefix(SUGGESTED_PREFIX), len(_RANK)), label

    return sorted(labels, key=key)


def flag_summary(counts: dict[str, int]) -> str:
    """'12 bad · 3 memorized · 40 suggested' from {label: count} ('?bad' counts as suggested); '' when none."""
    confirmed = {label: n for label, n in counts.items() if n and not label.startswith(SUGGESTED_PREFIX)}
    suggested = sum(n for label, n in counts.items() if label.startswith(SUGGESTED_PREFIX))
    parts = [f"{confirmed[label]:,} {'label ' if label in CUSTOM else ''}{label}" for label in badge_order(set(confirmed))]
    if suggested:
        parts.append(f"{suggested:,} suggested")
    return " · ".join(parts)


def key_help_html() -> str:
    """The `?` help: every flag key and what it does."""
    rows = [
        ("B / G / M", f"flag {escape(BAD)} / {escape(GOOD)} / {escape(MEMORIZED)}"),
        ("1 … 9", "custom labels 1 to 9"),
        ("Shift + key", "remove that flag"),
        ("U", "clear every flag"),
        ("Space, double-click", "open in the inspector"),
        ("Ctrl + wheel", "thumbnail size"),
        ("?", "this help"),
    ]
    body = "".join(f"<tr><td><b>{k}</b></td><td>&nbsp;{v}</td></tr>" for k, v in rows)
    return (
        "<p><b>Flag keys</b> act on the selection, or on the tile under the mouse "
        f"when nothing is selected.</p><table>{body}</table>"
    )
