"""One Bot Connector client per (app, service URL, audience), reused by every turn.

The SDK (botframework-connector 4.17.1) builds a new ConnectorClient, and a new TokenApiClient,
for every turn and every proactive message. Each one costs its construction (msrest models,
serializers, a retry policy), and worse, each brings its own `requests.Session`: every reply
opens a new TCP connection (and, against Teams, a new TLS handshake) from the thread pool msrest
sends on. Here the clients are made once and kept, so replies travel on pooled keep-alive
connections.

What stays the SDK's: the request pipeline (user agent, credentials, msrest's retry policy),
the credentials (bot/adapter.py's CachingCredentialFactory) and every operation. A kept client
is shared by concurrent turns, which msrest allows: its pipeline holds no per-call state, and
urllib3's pool hands each thread its own connection.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, cast

from botbuilder.schema import Activity
from botframework.connector.aio import ConnectorClient  # type: ignore[import-untyped]
from botframework.connector.aiohttp_bf_pipeline import (  # type: ignore[import-untyped]
    AsyncBfPipeline,
)
from botframework.connector.auth import (  # type: ignore[import-untyped]
    AuthenticateRequestResult,
    AuthenticationConstants,
    BotFrameworkAuthentication,
    ClaimsIdentity,
    ConnectorFactory,
    ServiceClientCredentialsFactory,
)

# The SDK's own user agent string, as its factory sets it on every client it makes.
from botframework.connector.auth._connector_factory_impl import (  # type: ignore[import-untyped]
    USER_AGENT,
)
from botframework.connector.bot_framework_sdk_client_async import (  # type: ignore[import-untyped]
    BotFrameworkConnectorConfiguration,
)
from msrest.serialization import Serializer
from msrest.universal_http.async_requests import AsyncRequestsHTTPSender
from requests.adapters import HTTPAdapter

from bot.schema_codec import SchemaCodec

# Connections kept open per host: the most threads the default executor msrest sends on can
# have (min(32, cpus + 4)); more in flight would open connections only to discard them.
POOL_CONNECTIONS_PER_HOST = 32
# Distinct service URLs remembered; Teams uses a handful per region. Without authentication
# (local demo only) anyone may name any URL, so the cache is bounded.
MAX_CLIENTS = 64


class _PooledRequestsSender(AsyncRequestsHTTPSender):
    """msrest's own sender, with a connection pool sized for concurrent turns."""

    def _init_session(self, session: Any) -> None:
        for prefix in ("http://", "https://"):
            session.mount(
                prefix,
                HTTPAdapter(
                    pool_connections=4,
                    pool_maxsize=POOL_CONNECTIONS_PER_HOST,
                ),
            )
        # msrest then sets its retry policy on these adapters, as on its own.
        super()._init_session(session)


class _PlannedBodySerializer(Serializer):
    """msrest's serializer, writing each request body through the class plans of
    bot/schema_codec.py (the same JSON, a twentieth of the work) and through msrest itself
    for anything the plans do not cover."""

    codec: SchemaCodec

    def body(self, data: Any, data_type: str, **kwargs: Any) -> Any:
        if not kwargs and not self.client_side_validation:
            encoded = self.codec.encode_body(data, data_type)
            if encoded is not None:
                return encoded
        return super().body(data, data_type, **kwargs)  # type: ignore[no-untyped-call]


def _plan_bodies(serializer: Serializer) -> None:
    # The client's operation groups hold this very serializer, so it is changed in place.
    serializer.__class__ = _PlannedBodySerializer
    cast(_PlannedBodySerializer, serializer).codec = SchemaCodec(serializer.dependencies)


def _new_client(credentials: Any, service_url: str) -> Any:
    config = BotFrameworkConnectorConfiguration(credentials, service_url)
    config.driver = _PooledRequestsSender(config)
    # The SDK's own pipeline (user agent, credentials, deserialiser, logger) over that sender.
    config.custom_pipeline = AsyncBfPipeline(config)
    client = ConnectorClient(credentials, base_url=service_url, custom_configuration=config)
    client.config.add_user_agent(USER_AGENT)
    # msrest checks each body against its models' validation rules before serialising it (a
    # third of a reply's serialisation); no model of the Bot Framework schema has a rule, so
    # that check can only pass, and serialising still refuses what cannot be sent.
    client._serialize.client_side_validation = False
    _plan_bodies(client._serialize)
    return client


class PooledConnectorFactory(ConnectorFactory):  # type: ignore[misc]
    """The SDK's ConnectorFactory contract, handing out kept clients."""

    def __init__(
        self,
        clients: OrderedDict[tuple[str, str, str], Any],
        app_id: str | None,
        default_audience: str,
        login_endpoint: str,
        validate_authority: bool,
        credential_factory: ServiceClientCredentialsFactory,
    ) -> None:
        self._clients = clients
        self._app_id = app_id
        self._default_audience = default_audience
        self._login_endpoint = login_endpoint
        self._validate_authority = validate_authority
        self._credential_factory = credential_factory

    async def create(self, service_url: str, audience: str | None = None) -> Any:
        audience = audience or self._default_audience
        key = (self._app_id or "", service_url, audience)
        client = self._clients.get(key)
        if client is not None:
            self._clients.move_to_end(key)
            return client
        credentials = await self._credential_factory.create_credentials(
            self._app_id, audience, self._login_endpoint, self._validate_authority
        )
        client = _new_client(credentials, service_url)
        self._clients[key] = client
        while len(self._clients) > MAX_CLIENTS:
            self._clients.popitem(last=False)
        return client


class PooledBotFrameworkAuthentication(BotFrameworkAuthentication):  # type: ignore[misc]
    """The SDK's authentication, unchanged, except that the connector factories it hands the
    adapter keep their clients, and the user-token client is made once per app id."""

    def __init__(
        self,
        inner: BotFrameworkAuthentication,
        *,
        credential_factory: ServiceClientCredentialsFactory,
        login_endpoint: str,
        validate_authority: bool,
    ) -> None:
        self._inner = inner
        self._credential_factory = credential_factory
        self._login_endpoint = login_endpoint
        self._validate_authority = validate_authority
        self._clients: OrderedDict[tuple[str, str, str], Any] = OrderedDict()
        self._user_token_clients: dict[str, Any] = {}

    def _factory(self, claims_identity: ClaimsIdentity) -> PooledConnectorFactory:
        return PooledConnectorFactory(
            self._clients,
            _app_id(claims_identity),
            self._inner.get_originating_audience(),
            self._login_endpoint,
            self._validate_authority,
            self._credential_factory,
        )

    async def authenticate_request(
        self, activity: Activity, auth_header: str | None
    ) -> AuthenticateRequestResult:
        result = await self._inner.authenticate_request(activity, auth_header)
        if result.connector_factory is not None:
            result.connector_factory = self._factory(result.claims_identity)
        return result

    async def authenticate_streaming_request(
        self, auth_header: str, channel_id_header: str
    ) -> AuthenticateRequestResult:
        return await self._inner.authenticate_streaming_request(auth_header, channel_id_header)

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        return self._factory(claims_identity)

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> Any:
        key = _app_id(claims_identity) or ""
        if key not in self._user_token_clients:
            self._user_token_clients[key] = await self._inner.create_user_token_client(
                claims_identity
            )
        return self._user_token_clients[key]

    def create_bot_framework_client(self) -> Any:
        return self._inner.create_bot_framework_client()

    def get_originating_audience(self) -> str:
        return str(self._inner.get_originating_audience())

    async def authenticate_channel_request(self, auth_header: str) -> ClaimsIdentity:
        return await self._inner.authenticate_channel_request(auth_header)

    def clients(self) -> int:
        """How many connector clients are kept (for tests and the bench)."""
        return len(self._clients)


def _app_id(claims_identity: ClaimsIdentity) -> str | None:
    """The bot's app id as the SDK derives it: the audience a channel's token was issued
    for, else the appid claim (None when unauthenticated)."""
    for claim in (AuthenticationConstants.AUDIENCE_CLAIM, AuthenticationConstants.APP_ID_CLAIM):
        value = claims_identity.get_claim_value(claim)
        if value:
            return str(value)
    return None
