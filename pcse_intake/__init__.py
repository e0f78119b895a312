"""pcse-intake: turns the PCSE data-management mailbox into verified, audited work."""

__version__ = "0.1.0"
