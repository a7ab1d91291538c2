"""A real SMTP server for the tests (aiosmtpd), and a way to wait for a message."""

from __future__ import annotations

import email
import email.policy
import re
import threading
import time
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller


@dataclass
class Received:
    to: list[str]
    subject: str
    text: str
    html: str
    raw: bytes

    def link(self, contains: str = "") -> str:
        for url in re.findall(r"https?://[^\s\"'<>]+", self.text):
            if contains in url:
                return url.rstrip(".,)")
        raise AssertionError(f"no link containing {contains!r} in:\n{self.text}")


@dataclass
class Mailbox:
    messages: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://{self.controller.hostname}:{self.controller.port}"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        text = html = ""
        for part in message.walk():
            if part.get_content_type() == "text/plain":
                text = part.get_content()
            elif part.get_content_type() == "text/html":
                html = part.get_content()
        with self.lock:
            self.messages.append(
                Received(
                    to=list(envelope.rcpt_tos),
                    subject=str(message["subject"]),
                    text=text,
                    html=html,
                    raw=envelope.content,
                )
            )
        return "250 OK"

    def wait_for(
        self, to: str, subject_contains: str = "", timeout: float = 90, after: int = 0
    ) -> Received:
        """The first message to `to` (after the first `after` messages) with that subject."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for message in self.messages[after:]:
                    if (
                        to.lower() in (r.lower() for r in message.to)
                        and subject_contains.lower() in message.subject.lower()
                    ):
                        return message
            time.sleep(0.25)
        raise AssertionError(
            f"no mail to {to} about {subject_contains!r} within {timeout} s; "
            f"got {[(m.to, m.subject) for m in self.messages]}"
        )

    def count(self) -> int:
        with self.lock:
            return len(self.messages)


def start_mailbox(port: int) -> Mailbox:
    mailbox = Mailbox()
    mailbox.controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    mailbox.controller.start()
    return mailbox
