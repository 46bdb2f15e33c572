"""Outgoing e-mail: one SMTP transport for alert channels and account mail (mail/smtp.py),
the server's own SMTP settings (mail/config.py), the account mails' templates
(mail/templates.py) and the outbox that sends them in the background (mail/outbox.py)."""
