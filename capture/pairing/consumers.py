"""The laptop's pairing socket: no login (the tab is signed out), but it only ever talks to the
browser that holds the request's binding cookie. It pushes "scanned", "approved" and "gone"; it
accepts nothing. Close codes (docs/protocol.md): 4403 unknown request or binding cookie mismatch."""

import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from capture import protocol

from . import selectors, services


class PairingConsumer(AsyncWebsocketConsumer):
    group = None

    async def connect(self):
        # Accept first so that a refusal carries a close code the page can read.
        await self.accept()
        request_id = self.scope["url_route"]["kwargs"]["request_id"]
        cookies = self.scope.get("cookies") or {}
        # The __Host- cookie can only have been set over HTTPS, so it is trusted whatever scheme the
        # proxy reports; the plain one only on a plain-HTTP socket (development).
        secret = cookies.get(services.binding_cookie_name(secure=True))
        if not secret and self.scope.get("scheme") != "wss":
            secret = cookies.get(services.binding_cookie_name(secure=False))
        # Join before reading the state, so an approval landing in between is not missed.
        self.group = services.pairing_group(request_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        state = await database_sync_to_async(selectors.pairing_state_for_browser)(
            request_id=request_id, binding_secret=secret
        )
        if state is None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            self.group = None
            await self.close(code=protocol.CLOSE_FORBIDDEN)
            return
        if state.status != "pending":
            await self._push(state.status)

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        return  # the laptop has nothing to say on this socket

    async def _push(self, kind: str):
        await self.send(text_data=json.dumps({"type": kind}))

    async def pairing_scanned(self, event):
        await self._push("scanned")

    async def pairing_approved(self, event):
        await self._push("approved")

    async def pairing_gone(self, event):
        await self._push("gone")
