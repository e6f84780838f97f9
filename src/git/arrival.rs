//! A pack read while it is still arriving: the fetch writes it to a file and says how much is
//! on disk; the sifter reads behind it, waiting where it has caught up. On a link where the
//! transfer takes most of the time, the sifting then ends with the transfer instead of
//! starting after it (the git CLI's `index-pack` reads its pack the same way, as it comes).

use std::{
    fs::File,
    io::{Read, Write},
    sync::{Condvar, Mutex, PoisonError},
};

/// How much of the pack is on disk, and whether its transfer ended (well or not).
#[derive(Default)]
pub(super) struct Arrival {
    state: Mutex<(u64, Option<bool>)>,
    grew: Condvar,
}

impl Arrival {
    fn wrote(&self, n: usize) {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).0 += n as u64;
        self.grew.notify_all();
    }

    /// The transfer ended: `complete`, or cut (the reader then fails instead of waiting).
    /// The first word stands.
    pub(super) fn finish(&self, complete: bool) {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .1
            .get_or_insert(complete);
        self.grew.notify_all();
    }

    /// Ends the transfer as cut when dropped before it was said to end (the fetch panicked,
    /// say): the reader is never left waiting.
    pub(super) fn guard(&self) -> Guard<'_> {
        Guard(self)
    }

    /// How many bytes past `at` are on disk, waiting for some; 0 at the end of a complete pack.
    fn beyond(&self, at: u64) -> std::io::Result<u64> {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            match *s {
                (written, _) if written > at => return Ok(written - at),
                (_, Some(true)) => return Ok(0),
                (_, Some(false)) => {
                    return Err(std::io::Error::other(
                        "the pack's transfer did not complete",
                    ));
                }
                (_, None) => s = self.grew.wait(s).unwrap_or_else(PoisonError::into_inner),
            }
        }
    }

    /// The writer for the pack's file: each write is counted once it reached the file.
    pub(super) fn writer(&self, file: File) -> Counted<'_> {
        Counted {
            file,
            arrival: self,
        }
    }

    /// A reader of the pack's file that waits for what has not arrived yet.
    pub(super) fn reader(&self, file: File) -> Following<'_> {
        Following {
            file,
            at: 0,
            arrival: self,
        }
    }
}

pub(super) struct Guard<'a>(&'a Arrival);

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        self.0.finish(false);
    }
}

pub(super) struct Counted<'a> {
    file: File,
    arrival: &'a Arrival,
}

impl Write for Counted<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.arrival.wrote(n);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

pub(super) struct Following<'a> {
    file: File,
    at: u64,
    arrival: &'a Arrival,
}

impl Read for Following<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let ready = self.arrival.beyond(self.at)?;
        let len = buf.len().min(usize::try_from(ready).unwrap_or(usize::MAX));
        let n = self.file.read(&mut buf[..len])?;
        self.at += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::Arrival;

    #[test]
    fn the_reader_waits_for_what_the_writer_has_not_written_and_fails_on_a_cut_transfer() {
        for complete in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("pack");
            let arrival = Arrival::default();
            let file = std::fs::File::create(&path).unwrap();
            let read = std::thread::scope(|s| {
                let reader = s.spawn(|| {
                    let mut got = vec![];
                    let r = arrival
                        .reader(std::fs::File::open(&path).unwrap())
                        .read_to_end(&mut got);
                    r.map(|_| got)
                });
                let mut w = arrival.writer(file);
                for chunk in [&b"PACK"[..], b"0123", b"4567"] {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    w.write_all(chunk).unwrap();
                }
                arrival.finish(complete);
                reader.join().unwrap()
            });
            match complete {
                true => assert_eq!(read.unwrap(), b"PACK01234567"),
                false => assert!(read.is_err()),
            }
        }
    }
}
