from sharedclient.core.imap.fetchparse import parse_fetch, parse_sequence_set, uid_ranges


def test_literal_and_plain_responses() -> None:
    data = [
        (b'1 (UID 7 FLAGS (\\Seen $Claimed-alice) INTERNALDATE "17-Jul-1996 02:44:25 -0700" RFC822.SIZE 4286 '
         b"MODSEQ (12) BODY[HEADER.FIELDS (SUBJECT)] {16}", b"Subject: hello\r\n"),
        b")",
        b"2 (UID 9 FLAGS () MODSEQ (13))",
        (b'3 (UID 11 RFC822.SIZE 5 BODY[HEADER.FIELDS (SUBJECT)] {0}', b""),
        b' INTERNALDATE " 1-Jan-2026 00:00:00 +0000")',
        b"4 (FLAGS (\\Deleted))",  # unsolicited, no UID: ignored
    ]
    records = list(parse_fetch(data))
    assert [r.uid for r in records] == [7, 9, 11]
    first = records[0]
    assert first.flags == ("\\Seen", "$Claimed-alice")
    assert first.internaldate == 837596665.0  # 1996-07-17 09:44:25 UTC
    assert (first.size, first.modseq, first.literal) == (4286, 12, b"Subject: hello\r\n")
    assert records[1].flags == () and records[1].literal is None
    assert records[2].internaldate == 1767225600.0 and records[2].literal == b""


def test_uid_ranges_compress() -> None:
    assert uid_ranges([1, 2, 3, 7, 9, 10]) == "1:3,7,9:10"
    assert uid_ranges([5]) == "5"
    assert uid_ranges([]) == ""
    assert len(uid_ranges(list(range(1, 50001)))) < 20


def test_sequence_sets() -> None:
    assert parse_sequence_set("300:302,405") == [300, 301, 302, 405]
    assert parse_sequence_set("9:7") == [7, 8, 9]
