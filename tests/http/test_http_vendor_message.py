"""The error a user reads carries the vendor's field-level detail, not only its headline."""

from __future__ import annotations

import pytest

from martech.http.client import vendor_message


def test_mailchimp_invalid_resource_names_the_fields() -> None:
    body = {
        "type": "https://mailchimp.com/developer/marketing/docs/errors/",
        "title": "Invalid Resource",
        "status": 400,
        "detail": "The resource submitted could not be validated. For field-specific details, "
        "see the 'errors' array.",
        "instance": "9d741ebc",
        "errors": [
            {"field": "FNAME", "message": "Please enter a value"},
            {"field": "email_address", "message": "This value should not be blank."},
        ],
    }
    msg = vendor_message(body)
    assert msg.startswith("Invalid Resource: The resource submitted could not be validated.")
    assert "FNAME: Please enter a value" in msg
    assert "email_address: This value should not be blank." in msg


def test_meta_user_message_follows_the_terse_one() -> None:
    body = {"error": {"message": "Invalid parameter", "type": "OAuthException", "code": 100,
                      "error_subcode": 1713230, "error_user_title": "Audience flagged",
                      "error_user_msg": "This audience was flagged and cannot be updated.",
                      "fbtrace_id": "Ab"}}  # fmt: skip
    msg = vendor_message(body)
    assert msg.startswith("Invalid parameter")
    assert "This audience was flagged and cannot be updated." in msg
    assert "code 100" in msg
    assert "subcode 1713230" in msg


def test_contentful_validation_details_are_shown() -> None:
    body = {"sys": {"type": "Error", "id": "ValidationFailed"}, "message": "Validation error",
            "details": {"errors": [{"name": "required", "path": ["fields", "title"],
                                    "details": "The property \"title\" is required here"}]},
            "requestId": "x"}  # fmt: skip
    msg = vendor_message(body)
    assert msg.startswith("Validation error")
    assert "fields.title" in msg
    assert 'The property "title" is required here' in msg


def test_wordpress_invalid_params_are_shown() -> None:
    params = {"status": "status is not one of publish, draft."}
    body = {"code": "rest_invalid_param", "message": "Invalid parameter(s): status",
            "data": {"status": 400, "params": params}}  # fmt: skip
    msg = vendor_message(body)
    assert msg.startswith("Invalid parameter(s): status")
    assert "status is not one of publish, draft." in msg


@pytest.mark.parametrize(
    "body",
    [
        {"message": "Property values were not valid"},
        {"error": {"message": "boom"}},
        {"title": "Resource Not Found", "detail": "The requested resource could not be found."},
    ],
)
def test_plain_bodies_keep_their_message_unchanged(body: dict[str, object]) -> None:
    assert vendor_message(body) in (
        "Property values were not valid",
        "boom",
        "Resource Not Found: The requested resource could not be found.",
    )


def test_a_flood_of_field_errors_is_cut_short() -> None:
    body = {"title": "Invalid Resource", "detail": "bad",
            "errors": [{"field": f"F{i}", "message": "x" * 50} for i in range(500)]}  # fmt: skip
    msg = vendor_message(body)
    assert "F0: " in msg
    assert len(msg) < 1200
