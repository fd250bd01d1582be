"""Team desk work kept on the IMAP server itself: canned responses (templates) and internal notes.

Both are ordinary messages in folders of the shared mailbox (``Templates``, ``Notes``), so the whole team
sees the same ones with no extra server and any mail client can still read them. Nothing here imports Qt.
"""

#: Marks an internal note. Here (not in ``notes``) so ``mime.reply`` can refuse to quote a note
#: without importing the notes module, which itself builds on ``mime.reply``.
NOTE_HEADER = "X-SharedClient-Note"
