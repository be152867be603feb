"""Which emails are valid (issue #19 point 2, #12 point 3): what RFC 5322 / Resend would refuse is a
permanent error for the event, with a reason that says what is wrong and quotes no raw character."""

from __future__ import annotations

import pytest

from connector.errors import InvalidEventError
from connector.mapping.email import normalise_email


@pytest.mark.parametrize(
    "raw",
    [
        "ada+tag@example.com",
        "o'brien@sub.example.co.uk",
        "user-1@example.com",
        "müller@bücher.de",
        "x" * 64 + "@example.com",
        " \tAda@Example.com\n",  # surrounding whitespace is trimmed, not an error
    ],
)
def test_valid_emails(raw: str) -> None:
    assert normalise_email(raw) == raw.strip().lower()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("bad-nul\u0000@example.com", "U+0000"),
        ("bad-bell\u0007@example.com", "U+0007"),
        ("esc\u001b@example.com", "U+001B"),
        ("del\u007f@example.com", "U+007F"),
        ("line\nbreak@example.com", "U+000A"),
        ("ada@exa\u0000mple.com", "U+0000"),
        ("zero\u200bwidth@example.com", "ZERO WIDTH SPACE"),
        ("lone\ud800@example.com", "lone surrogate U+D800"),
        ("ada@example\udc00.com", "lone surrogate U+DC00"),
        ("a b@example.com", "before the @-sign"),
        ('"quoted"@example.com', "Quoting"),
        ("a..b@example.com", "two periods"),
        ("ada@[127.0.0.1]", "bracketed"),
        ("x" * 65 + "@example.com", "64"),
        ("ada@" + "a" * 250 + ".com", "254"),
        ("a@b.c", "top-level domain"),
    ],
)
def test_invalid_emails_say_what_is_wrong(raw: str, reason: str) -> None:
    with pytest.raises(InvalidEventError) as caught:
        normalise_email(raw)
    message = str(caught.value)
    assert reason in message
    message.encode("utf-8")  # the reason goes into dead-letter headers: it must be encodable
    assert "\u0000" not in message
