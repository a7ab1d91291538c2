"""The dev mailbox: a mail backend that keeps messages in the database instead of sending
them, so that a newcomer can follow an activation link without a mail server. Only used in
demo mode and development (see the identity settings)."""

from django.core.mail.backends.base import BaseEmailBackend


class DevMailboxBackend(BaseEmailBackend):
    def send_messages(self, email_messages) -> int:
        from .models import DevMessage

        for message in email_messages:
            html = ""
            for content, mimetype in getattr(message, "alternatives", []) or []:
                if mimetype == "text/html":
                    html = content
            DevMessage.objects.create(
                to=", ".join(message.to), subject=message.subject, text=message.body, html=html
            )
        return len(email_messages)
