"""Mail through an SMTP server, configured by the TRUTHLOOP_SMTP_* settings."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage

from truthloop.config import Settings
from truthloop.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Mailer:
    host: str
    port: int = 587
    sender: str = "truthloop@localhost"
    username: str | None = None
    password: str | None = None
    starttls: bool = True
    timeout_s: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Mailer | None:
        """A mailer when an SMTP host is configured, else None (links are only printed)."""
        if not settings.smtp_host:
            return None
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_sender,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
        )

    def send(self, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as error:
            raise ConfigError(
                f"could not send mail to {to} through SMTP {self.host}:{self.port}"
                f" (check the TRUTHLOOP_SMTP_* settings): {error}"
            ) from error
