//! Reading a JSONL file line by line without ever holding a line longer than a limit.

use std::io::BufRead;

pub enum LineError {
    Io(std::io::Error),
    /// The line goes on past the limit; `read` bytes of it were seen.
    TooLong {
        read: usize,
    },
}

/// Reads one line, its `\n` included, into `buf` (cleared by the caller), as `read_until`
/// does, but stops with [`LineError::TooLong`] as soon as the line is known to exceed `max`
/// bytes (its newline not counted): memory stays at most `max` plus one buffer. Returns the
/// bytes read (0 at the end of the file).
pub fn read_line_bounded(
    reader: &mut impl BufRead,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::result::Result<usize, LineError> {
    let mut read = 0;
    loop {
        let chunk = match reader.fill_buf() {
            Ok(chunk) => chunk,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(LineError::Io(e)),
        };
        if chunk.is_empty() {
            return Ok(read);
        }
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let content = buf.len() + take - usize::from(done);
        if content > max {
            let seen = read + take - usize::from(done);
            return Err(LineError::TooLong { read: seen });
        }
        buf.extend_from_slice(&chunk[..take]);
        reader.consume(take);
        read += take;
        if done {
            return Ok(read);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufReader;

    fn lines(text: &[u8], max: usize, capacity: usize) -> Vec<Result<Vec<u8>, usize>> {
        let mut reader = BufReader::with_capacity(capacity, text);
        let mut out = Vec::new();
        loop {
            let mut buf = Vec::new();
            match read_line_bounded(&mut reader, &mut buf, max) {
                Ok(0) => return out,
                Ok(n) => {
                    assert_eq!(n, buf.len());
                    out.push(Ok(buf));
                }
                Err(LineError::TooLong { read }) => {
                    assert!(buf.len() <= max, "held {} bytes", buf.len());
                    out.push(Err(read));
                    return out;
                }
                Err(LineError::Io(e)) => panic!("{e}"),
            }
        }
    }

    #[test]
    fn reads_lines_as_read_until_does_up_to_the_limit() {
        for capacity in [1, 3, 64] {
            let got = lines(b"ab\n\nabcd\nxyz", 4, capacity);
            let want: Vec<Result<Vec<u8>, usize>> = vec![
                Ok(b"ab\n".to_vec()),
                Ok(b"\n".to_vec()),
                Ok(b"abcd\n".to_vec()),
                Ok(b"xyz".to_vec()),
            ];
            assert_eq!(got, want, "buffer of {capacity}");
        }
    }

    #[test]
    fn a_line_over_the_limit_stops_the_reading_early() {
        let mut text = b"ok\n".to_vec();
        text.extend(std::iter::repeat_n(b'x', 1 << 20));
        text.push(b'\n');
        let got = lines(&text, 1000, 256);
        assert_eq!(got[0], Ok(b"ok\n".to_vec()));
        // Stopped within one buffer of the limit, never near the line's 1 MiB.
        let read = got[1].clone().unwrap_err();
        assert!((1001..=1000 + 256).contains(&read), "read {read}");
    }
}
