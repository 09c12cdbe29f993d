"""Session credentials: the access key id, the derived secret, the sealed session token,
verification, rotation across keysets, and tampering with every region of a token."""

from __future__ import annotations

import base64
import re

import pytest

from sidecar.sts import Keyset, SessionClaims, StsError, TokenCodec
from sidecar.sts.errors import EXPIRED_TOKEN, INVALID_CLIENT_TOKEN_ID, SIGNATURE_DOES_NOT_MATCH
from sidecar.sts.tokens import FORMAT_VERSION, derive_secret, new_access_key_id

from .support import (
    ACCT,
    KEY_NEW,
    KEY_OLD,
    KEYSET_JSON,
    T0,
    Clock,
    account,
    compiled,
    doc,
    keyset_json,
    login,
    new_sts,
    params,
    role,
    role_arn,
    snapshot,
    sts_error,
    trust,
    user,
    user_arn,
)

ASIA = re.compile(r"ASIA[A-Z2-7]{16}")


def claims(**overrides: object) -> SessionClaims:
    fields: dict[str, object] = {
        "access_key_id": new_access_key_id(),
        "role_arn": f"arn:aws:iam::{ACCT}:role/app/RoleA",
        "role_id": "AROAROLEA00000000001",
        "session_name": "sess",
        "account": ACCT,
        "partition": "aws",
        "issued_at": T0,
        "expires_at": T0 + 3600,
    }
    fields.update(overrides)
    return SessionClaims(**fields)  # type: ignore[arg-type]


def codec(*keys: dict[str, str]) -> TokenCodec:
    return TokenCodec(Keyset.from_json(keyset_json(*keys)))


def raw(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def header_kid(token: str) -> str:
    data = raw(token)
    return data[2 : 2 + data[1]].decode()


# -- issuing ------------------------------------------------------------------------------------


def test_access_key_id_is_asia_and_16_base32_characters() -> None:
    ids = {new_access_key_id() for _ in range(200)}
    assert all(ASIA.fullmatch(i) for i in ids)
    assert len(ids) == 200


def test_issued_credentials_shapes() -> None:
    c = codec(KEY_OLD)
    cl = claims()
    creds = c.issue(cl)
    assert creds.access_key_id == cl.access_key_id
    assert creds.expires_at == cl.expires_at
    assert re.fullmatch(r"[A-Za-z0-9+/]{40}", creds.secret_access_key)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", creds.session_token)  # url-safe, unpadded
    assert creds.secret_access_key == derive_secret(c.keyset.signing, cl.access_key_id)


def test_secret_is_derived_from_the_key_id_and_the_server_key() -> None:
    old = Keyset.from_json(keyset_json(KEY_OLD)).signing
    new = Keyset.from_json(keyset_json(KEY_NEW)).signing
    assert derive_secret(old, "ASIAAAAAAAAAAAAAAAAA") == derive_secret(old, "ASIAAAAAAAAAAAAAAAAA")
    assert derive_secret(old, "ASIAAAAAAAAAAAAAAAAA") != derive_secret(old, "ASIAAAAAAAAAAAAAAAAB")
    assert derive_secret(old, "ASIAAAAAAAAAAAAAAAAA") != derive_secret(new, "ASIAAAAAAAAAAAAAAAAA")


def test_token_round_trips_every_claim() -> None:
    c = codec(KEY_OLD)
    full = claims(
        policy='{"Version":"2012-10-17","Statement":[]}',
        policy_arns=("arn:aws:iam::aws:policy/ReadOnlyAccess",),
        tags=(("Project", "x"), ("ünïcode", "välue")),
        transitive_keys=("project",),
        source_identity="alice",
        mfa_at=T0 - 5,
        chain_depth=2,
    )
    for cl in (claims(), full):
        creds = c.issue(cl)
        assert c.verify(creds.access_key_id, creds.session_token, creds.secret_access_key, T0) == cl
        assert codec(KEY_OLD).verify(cl.access_key_id, creds.session_token, None, T0) == cl


def test_token_is_encrypted_not_just_signed() -> None:
    c = codec(KEY_OLD)
    cl = claims(policy='{"Sid":"VerySecretSessionPolicy"}', source_identity="alice-source")
    data = raw(c.issue(cl).session_token)
    for plain in (b"VerySecretSessionPolicy", b"alice-source", b"RoleA", cl.access_key_id.encode(), b"sess"):
        assert plain not in data


def test_each_token_has_a_fresh_nonce() -> None:
    c = codec(KEY_OLD)
    cl = claims()
    t1, t2 = c.issue(cl).session_token, c.issue(cl).session_token
    assert t1 != t2
    assert raw(t1)[2 + raw(t1)[1] :][:12] != raw(t2)[2 + raw(t2)[1] :][:12]


def test_session_arn_has_no_role_path() -> None:
    assert claims().session_arn == f"arn:aws:sts::{ACCT}:assumed-role/RoleA/sess"


# -- verifying ----------------------------------------------------------------------------------


def test_verify_returns_the_claims() -> None:
    c = codec(KEY_OLD)
    cl = claims()
    creds = c.issue(cl)
    assert c.verify(creds.access_key_id, creds.session_token, creds.secret_access_key, T0) == cl
    assert c.verify(creds.access_key_id, creds.session_token, None, T0) == cl  # secret optional
    assert c.verify(creds.access_key_id, creds.session_token, "", T0) == cl


def test_wrong_access_key_id_with_a_valid_token_is_invalid() -> None:
    c = codec(KEY_OLD)
    creds = c.issue(claims())
    other = c.issue(claims())
    with sts_error(INVALID_CLIENT_TOKEN_ID):
        c.verify(other.access_key_id, creds.session_token, None, T0)
    with sts_error(INVALID_CLIENT_TOKEN_ID):
        c.verify(creds.access_key_id.lower(), creds.session_token, None, T0)


def test_expiry_is_exclusive_of_the_expiration_instant() -> None:
    c = codec(KEY_OLD)
    creds = c.issue(claims())
    c.verify(creds.access_key_id, creds.session_token, None, T0 + 3599.999)
    with sts_error(EXPIRED_TOKEN):
        c.verify(creds.access_key_id, creds.session_token, None, T0 + 3600)
    with sts_error(EXPIRED_TOKEN):
        c.verify(creds.access_key_id, creds.session_token, None, T0 + 10**6)


def test_cached_token_is_still_checked_for_expiry_and_key() -> None:
    c = codec(KEY_OLD)
    creds = c.issue(claims())
    c.verify(creds.access_key_id, creds.session_token, None, T0)  # now cached
    with sts_error(EXPIRED_TOKEN):
        c.verify(creds.access_key_id, creds.session_token, None, T0 + 3600)
    with sts_error(INVALID_CLIENT_TOKEN_ID):
        c.verify(new_access_key_id(), creds.session_token, None, T0)
    with sts_error(SIGNATURE_DOES_NOT_MATCH):
        c.verify(creds.access_key_id, creds.session_token, "x" * 40, T0)


def test_wrong_secret_does_not_match() -> None:
    c = codec(KEY_OLD)
    creds = c.issue(claims())
    other = c.issue(claims())
    with sts_error(SIGNATURE_DOES_NOT_MATCH):
        c.verify(creds.access_key_id, creds.session_token, other.secret_access_key, T0)
    with sts_error(SIGNATURE_DOES_NOT_MATCH):
        c.verify(creds.access_key_id, creds.session_token, creds.secret_access_key[:-1], T0)


def test_expired_wins_over_a_wrong_secret() -> None:
    c = codec(KEY_OLD)
    creds = c.issue(claims())
    with sts_error(EXPIRED_TOKEN):
        c.verify(creds.access_key_id, creds.session_token, "wrong", T0 + 7200)


@pytest.mark.parametrize("which", ["access_key_id", "secret"])
def test_non_ascii_credentials_are_refused_not_crashed(which: str) -> None:
    c = codec(KEY_OLD)
    creds = c.issue(claims())
    with pytest.raises(StsError) as info:
        if which == "access_key_id":
            c.verify("ASIAé" + creds.access_key_id[5:], creds.session_token, None, T0)
        else:
            c.verify(creds.access_key_id, creds.session_token, "é" * 40, T0)
    expected = INVALID_CLIENT_TOKEN_ID if which == "access_key_id" else SIGNATURE_DOES_NOT_MATCH
    assert info.value.code == expected


# -- tampering ----------------------------------------------------------------------------------


def _regions(data: bytes) -> dict[str, int]:
    """The offset of one byte in each region of a token."""
    header = 2 + data[1]
    return {
        "version": 0,
        "key-id-length": 1,
        "key-id-first": 2,
        "key-id-last": header - 1,
        "nonce-first": header,
        "nonce-last": header + 11,
        "ciphertext-first": header + 12,
        "ciphertext-last": len(data) - 17,
        "tag-first": len(data) - 16,
        "tag-last": len(data) - 1,
    }


REGIONS = list(_regions(b"\x01\x07" + b"\x00" * 100))


@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize("bit", [0x01, 0x80])
def test_one_flipped_byte_in_any_region_is_invalid(region: str, bit: int) -> None:
    c = codec(KEY_OLD, KEY_NEW)
    creds = c.issue(claims(policy='{"Version":"2012-10-17","Statement":[]}'))
    data = bytearray(raw(creds.session_token))
    assert data[0] == FORMAT_VERSION
    data[_regions(bytes(data))[region]] ^= bit
    forged = encode(bytes(data))
    assert forged != creds.session_token
    with sts_error(INVALID_CLIENT_TOKEN_ID):
        c.verify(creds.access_key_id, forged, creds.secret_access_key, T0)
    # The genuine token is untouched by the attempt.
    assert c.verify(creds.access_key_id, creds.session_token, creds.secret_access_key, T0)


def test_key_id_renamed_to_another_listed_key_is_invalid() -> None:
    # Key ids "k1" and "k3" differ in one bit: a token re-labelled to the other key fails.
    k1 = {**KEY_OLD, "id": "k1"}
    k3 = {**KEY_NEW, "id": "k3", "created": KEY_OLD["created"]}
    c = codec(k1, k3)
    creds = c.issue(claims())
    signer = header_kid(creds.session_token)
    data = bytearray(raw(creds.session_token))
    data[3] ^= ord("1") ^ ord("3")
    assert header_kid(encode(bytes(data))) in {"k1", "k3"} - {signer}
    with sts_error(INVALID_CLIENT_TOKEN_ID):
        c.verify(creds.access_key_id, encode(bytes(data)), None, T0)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1],
        lambda t: t[: len(t) // 2],
        lambda t: t[:10],
        lambda t: t + "AAAA",
        lambda t: encode(raw(t) + b"\x00"),
        lambda t: encode(raw(t)[:-1]),
        lambda t: "!!!!",
        lambda t: "A",
        lambda t: encode(b"\x01\x00" + b"\x00" * 40),
        lambda t: encode(b"\x01\xff" + b"x" * 300),
    ],
    ids=[
        "drop-char",
        "half",
        "prefix",
        "extra-chars",
        "extra-byte",
        "short-byte",
        "not-base64",
        "one-char",
        "empty-key-id",
        "long-key-id",
    ],
)
def test_malformed_tokens_are_invalid(mangle) -> None:
    c = codec(KEY_OLD)
    creds = c.issue(claims())
    with sts_error(INVALID_CLIENT_TOKEN_ID):
        c.verify(creds.access_key_id, mangle(creds.session_token), None, T0)


def test_token_of_a_foreign_key_with_the_same_id_is_invalid() -> None:
    impostor = {**KEY_OLD, "secret_b64": base64.b64encode(b"\x09" * 32).decode()}
    creds = codec(impostor).issue(claims())
    assert header_kid(creds.session_token) == KEY_OLD["id"]
    with sts_error(INVALID_CLIENT_TOKEN_ID):
        codec(KEY_OLD).verify(creds.access_key_id, creds.session_token, None, T0)


# -- several codecs, rotation --------------------------------------------------------------------


def test_another_codec_from_the_same_keyset_json_verifies() -> None:
    a, b = TokenCodec(Keyset.from_json(KEYSET_JSON)), TokenCodec(Keyset.from_json(KEYSET_JSON))
    cl = claims()
    creds = a.issue(cl)
    assert b.verify(creds.access_key_id, creds.session_token, creds.secret_access_key, T0) == cl


def test_rotation_new_key_signs_old_tokens_still_verify() -> None:
    old_only, both, new_only = codec(KEY_OLD), codec(KEY_OLD, KEY_NEW), codec(KEY_NEW)
    old = old_only.issue(claims())
    new = both.issue(claims())
    assert header_kid(old.session_token) == "2026-01"
    assert header_kid(new.session_token) == "2026-07"
    # The rotated keyset verifies both, each with the secret derived by its own key.
    both.verify(old.access_key_id, old.session_token, old.secret_access_key, T0)
    both.verify(new.access_key_id, new.session_token, new.secret_access_key, T0)
    assert old.secret_access_key == derive_secret(both.keyset.by_id["2026-01"], old.access_key_id)
    # A keyset without the old key refuses its tokens; one without the new key refuses new ones.
    with sts_error(INVALID_CLIENT_TOKEN_ID):
        new_only.verify(old.access_key_id, old.session_token, None, T0)
    new_only.verify(new.access_key_id, new.session_token, new.secret_access_key, T0)
    with sts_error(INVALID_CLIENT_TOKEN_ID):
        old_only.verify(new.access_key_id, new.session_token, None, T0)


# -- through Sts: one replica issues, another verifies --------------------------------------------


def _world() -> dict[str, object]:
    return snapshot(
        account(
            users=[user("alice")],
            roles=[
                role(
                    "RoleA",
                    doc(trust(user_arn("alice"))),
                    policies=[doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})],
                )
            ],
        )
    )


def test_session_issued_by_one_sts_is_accepted_by_another_with_the_same_keyset() -> None:
    clock = Clock()
    snap = compiled(_world())
    one, two = new_sts(clock), new_sts(clock)
    assumed = one.assume_role(snap, one.authenticate_arn(snap, user_arn("alice")), params(role_arn("RoleA")))
    auth = login(two, snap, assumed)
    assert auth.entry.principal.arn == assumed.arn
    assert auth.claims == assumed.claims
    assert auth.via == "session"


def test_rotated_replica_accepts_old_sessions_and_signs_with_the_new_key() -> None:
    clock = Clock()
    snap = compiled(_world())
    old = new_sts(clock, keyset_json(KEY_OLD))
    rotated = new_sts(clock, keyset_json(KEY_OLD, KEY_NEW))
    retired = new_sts(clock, keyset_json(KEY_NEW))
    alice = old.authenticate_arn(snap, user_arn("alice"))
    before = old.assume_role(snap, alice, params(role_arn("RoleA")))
    after = rotated.assume_role(snap, alice, params(role_arn("RoleA")))
    assert header_kid(before.credentials.session_token) == "2026-01"
    assert header_kid(after.credentials.session_token) == "2026-07"
    login(rotated, snap, before)
    login(rotated, snap, after)
    login(retired, snap, after)
    with sts_error(INVALID_CLIENT_TOKEN_ID):
        login(retired, snap, before)
    with sts_error(INVALID_CLIENT_TOKEN_ID):
        login(new_sts(clock, keyset_json({**KEY_OLD, "secret_b64": KEY_NEW["secret_b64"]})), snap, before)
