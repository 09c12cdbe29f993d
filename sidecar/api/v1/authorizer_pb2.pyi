import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Decision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DECISION_UNSPECIFIED: _ClassVar[Decision]
    DECISION_ALLOW: _ClassVar[Decision]
    DECISION_EXPLICIT_DENY: _ClassVar[Decision]
    DECISION_IMPLICIT_DENY: _ClassVar[Decision]
DECISION_UNSPECIFIED: Decision
DECISION_ALLOW: Decision
DECISION_EXPLICIT_DENY: Decision
DECISION_IMPLICIT_DENY: Decision

class Credentials(_message.Message):
    __slots__ = ("access_key_id", "secret_access_key", "session_token")
    ACCESS_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SECRET_ACCESS_KEY_FIELD_NUMBER: _ClassVar[int]
    SESSION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    access_key_id: str
    secret_access_key: str
    session_token: str
    def __init__(self, access_key_id: _Optional[str] = ..., secret_access_key: _Optional[str] = ..., session_token: _Optional[str] = ...) -> None: ...

class Caller(_message.Message):
    __slots__ = ("principal_arn", "credentials", "anonymous")
    PRINCIPAL_ARN_FIELD_NUMBER: _ClassVar[int]
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    ANONYMOUS_FIELD_NUMBER: _ClassVar[int]
    principal_arn: str
    credentials: Credentials
    anonymous: bool
    def __init__(self, principal_arn: _Optional[str] = ..., credentials: _Optional[_Union[Credentials, _Mapping]] = ..., anonymous: _Optional[bool] = ...) -> None: ...

class StringList(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, values: _Optional[_Iterable[str]] = ...) -> None: ...

class ContextValue(_message.Message):
    __slots__ = ("string_value", "string_list")
    STRING_VALUE_FIELD_NUMBER: _ClassVar[int]
    STRING_LIST_FIELD_NUMBER: _ClassVar[int]
    string_value: str
    string_list: StringList
    def __init__(self, string_value: _Optional[str] = ..., string_list: _Optional[_Union[StringList, _Mapping]] = ...) -> None: ...

class AuthorizeRequest(_message.Message):
    __slots__ = ("caller", "action", "resource", "resource_account", "context", "explain", "min_snapshot_version")
    class ContextEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: ContextValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[ContextValue, _Mapping]] = ...) -> None: ...
    CALLER_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    EXPLAIN_FIELD_NUMBER: _ClassVar[int]
    MIN_SNAPSHOT_VERSION_FIELD_NUMBER: _ClassVar[int]
    caller: Caller
    action: str
    resource: str
    resource_account: str
    context: _containers.MessageMap[str, ContextValue]
    explain: bool
    min_snapshot_version: int
    def __init__(self, caller: _Optional[_Union[Caller, _Mapping]] = ..., action: _Optional[str] = ..., resource: _Optional[str] = ..., resource_account: _Optional[str] = ..., context: _Optional[_Mapping[str, ContextValue]] = ..., explain: _Optional[bool] = ..., min_snapshot_version: _Optional[int] = ...) -> None: ...

class MatchedStatement(_message.Message):
    __slots__ = ("policy_kind", "policy", "sid", "statement_index", "effect")
    POLICY_KIND_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    SID_FIELD_NUMBER: _ClassVar[int]
    STATEMENT_INDEX_FIELD_NUMBER: _ClassVar[int]
    EFFECT_FIELD_NUMBER: _ClassVar[int]
    policy_kind: str
    policy: str
    sid: str
    statement_index: int
    effect: str
    def __init__(self, policy_kind: _Optional[str] = ..., policy: _Optional[str] = ..., sid: _Optional[str] = ..., statement_index: _Optional[int] = ..., effect: _Optional[str] = ...) -> None: ...

class Explanation(_message.Message):
    __slots__ = ("matched_statements", "missing_context_keys", "reason", "decided_by")
    MATCHED_STATEMENTS_FIELD_NUMBER: _ClassVar[int]
    MISSING_CONTEXT_KEYS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DECIDED_BY_FIELD_NUMBER: _ClassVar[int]
    matched_statements: _containers.RepeatedCompositeFieldContainer[MatchedStatement]
    missing_context_keys: _containers.RepeatedScalarFieldContainer[str]
    reason: str
    decided_by: str
    def __init__(self, matched_statements: _Optional[_Iterable[_Union[MatchedStatement, _Mapping]]] = ..., missing_context_keys: _Optional[_Iterable[str]] = ..., reason: _Optional[str] = ..., decided_by: _Optional[str] = ...) -> None: ...

class AuthorizeResponse(_message.Message):
    __slots__ = ("decision", "snapshot_version", "explanation")
    DECISION_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_VERSION_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    decision: Decision
    snapshot_version: int
    explanation: Explanation
    def __init__(self, decision: _Optional[_Union[Decision, str]] = ..., snapshot_version: _Optional[int] = ..., explanation: _Optional[_Union[Explanation, _Mapping]] = ...) -> None: ...

class AuthorizeBatchRequest(_message.Message):
    __slots__ = ("requests", "min_snapshot_version")
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    MIN_SNAPSHOT_VERSION_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[AuthorizeRequest]
    min_snapshot_version: int
    def __init__(self, requests: _Optional[_Iterable[_Union[AuthorizeRequest, _Mapping]]] = ..., min_snapshot_version: _Optional[int] = ...) -> None: ...

class AuthorizeBatchResponse(_message.Message):
    __slots__ = ("responses", "snapshot_version")
    RESPONSES_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_VERSION_FIELD_NUMBER: _ClassVar[int]
    responses: _containers.RepeatedCompositeFieldContainer[AuthorizeResponse]
    snapshot_version: int
    def __init__(self, responses: _Optional[_Iterable[_Union[AuthorizeResponse, _Mapping]]] = ..., snapshot_version: _Optional[int] = ...) -> None: ...

class Tag(_message.Message):
    __slots__ = ("key", "value")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: str
    def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class AssumeRoleRequest(_message.Message):
    __slots__ = ("caller", "role_arn", "role_session_name", "duration_seconds", "policy", "policy_arns", "tags", "transitive_tag_keys", "external_id", "serial_number", "token_code", "source_identity", "context", "min_snapshot_version")
    class ContextEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: ContextValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[ContextValue, _Mapping]] = ...) -> None: ...
    CALLER_FIELD_NUMBER: _ClassVar[int]
    ROLE_ARN_FIELD_NUMBER: _ClassVar[int]
    ROLE_SESSION_NAME_FIELD_NUMBER: _ClassVar[int]
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    POLICY_ARNS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    TRANSITIVE_TAG_KEYS_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    SERIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    TOKEN_CODE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_IDENTITY_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    MIN_SNAPSHOT_VERSION_FIELD_NUMBER: _ClassVar[int]
    caller: Caller
    role_arn: str
    role_session_name: str
    duration_seconds: int
    policy: str
    policy_arns: _containers.RepeatedScalarFieldContainer[str]
    tags: _containers.RepeatedCompositeFieldContainer[Tag]
    transitive_tag_keys: _containers.RepeatedScalarFieldContainer[str]
    external_id: str
    serial_number: str
    token_code: str
    source_identity: str
    context: _containers.MessageMap[str, ContextValue]
    min_snapshot_version: int
    def __init__(self, caller: _Optional[_Union[Caller, _Mapping]] = ..., role_arn: _Optional[str] = ..., role_session_name: _Optional[str] = ..., duration_seconds: _Optional[int] = ..., policy: _Optional[str] = ..., policy_arns: _Optional[_Iterable[str]] = ..., tags: _Optional[_Iterable[_Union[Tag, _Mapping]]] = ..., transitive_tag_keys: _Optional[_Iterable[str]] = ..., external_id: _Optional[str] = ..., serial_number: _Optional[str] = ..., token_code: _Optional[str] = ..., source_identity: _Optional[str] = ..., context: _Optional[_Mapping[str, ContextValue]] = ..., min_snapshot_version: _Optional[int] = ...) -> None: ...

class SessionCredentials(_message.Message):
    __slots__ = ("access_key_id", "secret_access_key", "session_token", "expiration")
    ACCESS_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SECRET_ACCESS_KEY_FIELD_NUMBER: _ClassVar[int]
    SESSION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRATION_FIELD_NUMBER: _ClassVar[int]
    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: _timestamp_pb2.Timestamp
    def __init__(self, access_key_id: _Optional[str] = ..., secret_access_key: _Optional[str] = ..., session_token: _Optional[str] = ..., expiration: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AssumedRoleUser(_message.Message):
    __slots__ = ("assumed_role_id", "arn")
    ASSUMED_ROLE_ID_FIELD_NUMBER: _ClassVar[int]
    ARN_FIELD_NUMBER: _ClassVar[int]
    assumed_role_id: str
    arn: str
    def __init__(self, assumed_role_id: _Optional[str] = ..., arn: _Optional[str] = ...) -> None: ...

class AssumeRoleResponse(_message.Message):
    __slots__ = ("credentials", "assumed_role_user", "packed_policy_size", "source_identity", "snapshot_version")
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    ASSUMED_ROLE_USER_FIELD_NUMBER: _ClassVar[int]
    PACKED_POLICY_SIZE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_IDENTITY_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_VERSION_FIELD_NUMBER: _ClassVar[int]
    credentials: SessionCredentials
    assumed_role_user: AssumedRoleUser
    packed_policy_size: int
    source_identity: str
    snapshot_version: int
    def __init__(self, credentials: _Optional[_Union[SessionCredentials, _Mapping]] = ..., assumed_role_user: _Optional[_Union[AssumedRoleUser, _Mapping]] = ..., packed_policy_size: _Optional[int] = ..., source_identity: _Optional[str] = ..., snapshot_version: _Optional[int] = ...) -> None: ...

class GetCallerIdentityRequest(_message.Message):
    __slots__ = ("caller",)
    CALLER_FIELD_NUMBER: _ClassVar[int]
    caller: Caller
    def __init__(self, caller: _Optional[_Union[Caller, _Mapping]] = ...) -> None: ...

class GetCallerIdentityResponse(_message.Message):
    __slots__ = ("account", "arn", "user_id", "snapshot_version")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    ARN_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_VERSION_FIELD_NUMBER: _ClassVar[int]
    account: str
    arn: str
    user_id: str
    snapshot_version: int
    def __init__(self, account: _Optional[str] = ..., arn: _Optional[str] = ..., user_id: _Optional[str] = ..., snapshot_version: _Optional[int] = ...) -> None: ...
