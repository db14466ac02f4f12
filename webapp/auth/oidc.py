"""Sign-in through the county's OpenID Connect identity provider (Authlib), beside local accounts.

The provider proves who the person is; what they may do in Polku comes from one claim (by default
`groups`) mapped to Polku roles and teams by the county's OIDC group map. The first sign-in creates
the account (id from `preferred_username`, else `sub`), and every sign-in sets its roles and teams to
what the claim says now, so a person moved out of a group loses the role at their next sign-in. A
person whose claim maps to no role is refused with a page that says so. The authorization code flow
uses state, nonce and PKCE (S256).

A local account (one with a password) is never taken over by a provider account of the same name: the
provider does not decide who owns an existing Polku password account.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app, url_for
from sqlalchemy.orm import Session

from casework.teams import DEFAULT_GROUPS, Team, TeamMember, add_team
from casework.users import Role, StaffRole, StaffUser, add_user

log = logging.getLogger("polku.webapp.oidc")
CLIENT = "county"
EXTENSION = "polku.oidc"
ID_LENGTH = 200  # staff_user.id


@dataclass(frozen=True)
class Grant:
    """What one claim value gives in Polku: roles and team memberships."""

    roles: frozenset[Role]
    teams: frozenset[str]


@dataclass(frozen=True)
class OidcConfig:
    """The app's OIDC settings (Flask config "OIDC", built by polku.settings from POLKU_OIDC_*)."""

    issuer: str
    client_id: str
    client_secret: str
    name: str = "the county's account"
    roles_claim: str = "groups"
    scopes: str = "openid profile email"
    group_map: Mapping[str, Grant] = field(default_factory=dict)

    @classmethod
    def from_config(cls, value: Mapping[str, Any]) -> OidcConfig:
        groups = {str(claim): grant_of(str(claim), spec) for claim, spec in dict(value.get("group_map") or {}).items()}
        return cls(issuer=str(value["issuer"]).rstrip("/"), client_id=str(value["client_id"]),
                   client_secret=str(value["client_secret"]), name=str(value.get("name") or cls.name),
                   roles_claim=str(value.get("roles_claim") or cls.roles_claim),
                   scopes=str(value.get("scopes") or cls.scopes), group_map=groups)


def grant_of(claim: str, spec: Any) -> Grant:
    """One entry of the group map: {"roles": [...], "team": "turku"} or {"roles": [...], "teams": [...]}."""
    if not isinstance(spec, Mapping):
        raise ValueError(f"group map entry {claim!r} must be an object with 'roles' and 'team' or 'teams'")
    unknown = set(spec) - {"roles", "team", "teams"}
    if unknown:
        raise ValueError(f"group map entry {claim!r}: unknown keys {', '.join(sorted(unknown))}")
    names = spec.get("roles") or []
    teams = spec.get("teams") or ([spec["team"]] if spec.get("team") else [])
    if not isinstance(names, list) or not isinstance(teams, list) or not all(
            isinstance(x, str) and x for x in [*names, *teams]):
        raise ValueError(f"group map entry {claim!r}: 'roles' and 'teams' must be lists of names")
    known = {r.value: r for r in Role}
    bad = [n for n in names if n not in known]
    if bad:
        raise ValueError(f"group map entry {claim!r}: unknown role(s) {', '.join(bad)} "
                         f"(roles: {', '.join(known)})")
    return Grant(frozenset(known[n] for n in names), frozenset(teams))


def init_app(app: Flask) -> None:
    """Register the provider with Authlib when the app has OIDC settings; without them the button is not shown."""
    value = app.config.get("OIDC")
    if not value:
        return
    config = value if isinstance(value, OidcConfig) else OidcConfig.from_config(value)
    oauth = OAuth(app)
    oauth.register(CLIENT, client_id=config.client_id, client_secret=config.client_secret,
                   server_metadata_url=f"{config.issuer}/.well-known/openid-configuration",
                   client_kwargs={"scope": config.scopes, "code_challenge_method": "S256", "timeout": 10})
    app.extensions[EXTENSION] = (config, oauth)


def configured() -> OidcConfig | None:
    entry = current_app.extensions.get(EXTENSION)
    return entry[0] if entry else None


def client() -> Any:
    return current_app.extensions[EXTENSION][1].create_client(CLIENT)


def callback_url() -> str:
    """Where the provider sends the person back: from BASE_URL when set, never from the request's Host."""
    base = str(current_app.config.get("BASE_URL") or "")
    path = url_for("auth.oidc_callback")
    return base + path if base else url_for("auth.oidc_callback", _external=True)


class Refusal(Exception):
    """The person signed in at the provider but may not use Polku; `reason` picks the page's explanation."""

    NO_USER_NAME, NO_ROLE, LOCAL_ACCOUNT, DEACTIVATED = "no_user_name", "no_role", "local_account", "deactivated"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def claims_of(token: Mapping[str, Any]) -> dict[str, Any]:
    """The ID token's verified claims, completed from the userinfo endpoint (code flow providers put most there)."""
    verified = token.get("userinfo")
    if not verified:
        raise OAuthError(description="the provider sent no ID token")
    claims = dict(verified)
    metadata = client().load_server_metadata()
    if metadata.get("userinfo_endpoint"):
        info = dict(client().userinfo(token=dict(token)))
        if info.get("sub") != claims.get("sub"):
            raise OAuthError(description="the userinfo subject differs from the ID token's")
        claims = {**info, **claims}
    return claims


def claim_values(value: Any) -> list[str]:
    """A group claim as a list: a JSON list, or one string of space- or comma-separated names."""
    if isinstance(value, str):
        return [v for v in value.replace(",", " ").split() if v]
    if isinstance(value, Iterable) and not isinstance(value, Mapping):
        return [str(v) for v in value if isinstance(v, str | int)]
    return []


def grants_for(config: OidcConfig, claims: Mapping[str, Any]) -> Grant:
    grants = [config.group_map[v] for v in claim_values(claims.get(config.roles_claim)) if v in config.group_map]
    return Grant(frozenset().union(*(g.roles for g in grants)), frozenset().union(*(g.teams for g in grants)))


def account_from(session: Session, config: OidcConfig, claims: Mapping[str, Any], at: Any) -> str | None:
    """Create or refresh the staff account of a provider sign-in: its id, None when the claim maps to no role
    (an existing account then loses its roles and teams), or Refusal."""
    user_id = str(claims.get("preferred_username") or claims.get("sub") or "").strip()
    if not user_id or len(user_id) > ID_LENGTH or "\x00" in user_id:
        raise Refusal(Refusal.NO_USER_NAME)
    user = session.get(StaffUser, user_id)
    if user is not None and user.password_hash is not None:
        raise Refusal(Refusal.LOCAL_ACCOUNT)
    if user is not None and not user.active:
        raise Refusal(Refusal.DEACTIVATED)
    grant = grants_for(config, claims)
    if not grant.roles and user is None:
        raise Refusal(Refusal.NO_ROLE)
    name = str(claims.get("name") or user_id)[:300]
    email = str(claims["email"])[:300] if claims.get("email") else None
    if user is None:
        user = add_user(session, user_id, name, grant.roles, at, email=email)
        log.info("account %s created at its first sign-in through OIDC", user_id)
    else:
        user.name, user.email = name, email or user.email
        if user.roles != grant.roles:
            user.role_rows = [row for row in user.role_rows if row.role in grant.roles] + [
                StaffRole(role=r) for r in grant.roles - user.roles]
    _set_teams(session, user_id, grant.teams, at)
    session.flush()
    return user_id if grant.roles else None  # None: refused, and the account's roles are gone too


def _set_teams(session: Session, user_id: str, teams: frozenset[str], at: Any) -> None:
    """Membership follows the claim: joined teams it names (created with the default groups), left others."""
    for row in session.query(TeamMember).filter(TeamMember.user_id == user_id).all():
        if row.team_id not in teams:
            session.delete(row)
    for team_id in sorted(teams):
        if session.get(Team, team_id) is None:
            add_team(session, team_id, team_id, at, groups=dict(DEFAULT_GROUPS))
        if session.get(TeamMember, (team_id, user_id)) is None:
            session.add(TeamMember(team_id=team_id, user_id=user_id))
