"""Intake: orders from where buyers already have them (shipping e-mails).

``mailparse`` reads one RFC 822 message into a :class:`~collector.intake.mailparse.Notice`
(pure: bytes in); ``mailsources`` opens files, folders, mbox, Maildir and IMAP
folders; ``mail`` ties them to the store through the same path as ``import``.
"""
