"""Email: the alert in the subject, its sample posts in the body, over SMTP."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from canyu.schema import Notification
from sinks.delivery.channel import Sender, summary


class Email(Sender):
    kind = "email"

    def send(self, notice: Notification, deadline: float) -> None:
        """One message; the SMTP server's timeout (``deliver_timeout_s``) bounds each step of it."""
        message = EmailMessage()
        message["From"] = self.settings.delivery.smtp_from
        message["To"] = notice.channel.target
        message["Subject"] = summary(notice)[:200]
        message["Message-ID"] = f"<{notice.id}@canyu>"
        samples = "\n".join(f"- {text}" for text in notice.alert.samples)
        message.set_content(f"{summary(notice)}\n\nSample posts:\n{samples}\n\nAlert id: {notice.alert.id}\n")
        timeout = self.settings.delivery.timeout_s
        with smtplib.SMTP(self.settings.delivery.smtp_host, self.settings.delivery.smtp_port, timeout=timeout) as smtp:
            smtp.send_message(message)
