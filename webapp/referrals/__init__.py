"""Referrals: a staff member's referral (`/referrals/new`) and the public self-referral (`/referral`)."""

from flask import Blueprint

bp = Blueprint("referrals", __name__, template_folder="templates")

from webapp.referrals import views  # noqa: E402,F401

__all__ = ["bp"]
