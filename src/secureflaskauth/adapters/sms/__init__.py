"""SMS senders, one module per provider, behind the SmsSender port."""
