//! `spool::fs`: whole-file calls and `File`'s async reads and writes run
//! on the blocking pool (the P's M never makes the syscall), results and
//! errors as `std::fs` gives them.

use std::time::Duration;

use futures_lite::{AsyncReadExt, AsyncWriteExt};

fn temp(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("fs-{name}-{}", std::process::id()))
}

fn within_60s<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the fs test hung or panicked (60 s)")
}

#[test]
fn whole_file_calls_round_trip_and_report_errors() {
    within_60s(|| {
        let rt = spool::Builder::new().procs(2).build().unwrap();
        let p = temp("whole");
        rt.run({
            let p = p.clone();
            async move {
                spool::fs::write(&p, "héllo\n").await.unwrap();
                assert_eq!(spool::fs::read(&p).await.unwrap(), "héllo\n".as_bytes());
                assert_eq!(spool::fs::read_to_string(&p).await.unwrap(), "héllo\n");
                assert_eq!(spool::fs::metadata(&p).await.unwrap().len(), 7);
                let missing = p.with_extension("missing");
                let e = spool::fs::read(&missing).await.unwrap_err();
                assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
                spool::fs::write(&p, [0xff, 0xfe]).await.unwrap();
                let e = spool::fs::read_to_string(&p).await.unwrap_err();
                assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
            }
        });
        // The calls ran on the pool, not on the Ms.
        assert!(rt.handle().metrics().blocking_threads >= 1);
        std::fs::remove_file(&p).unwrap();
    });
}

#[test]
fn file_writes_then_reads_a_megabyte_in_pieces() {
    within_60s(|| {
        let rt = spool::Builder::new().procs(2).build().unwrap();
        let p = temp("file");
        let data: Vec<u8> = (0..1_000_003u32).map(|i| (i * 7 % 251) as u8).collect();
        let back = rt.run({
            let (p, data) = (p.clone(), data.clone());
            async move {
                let mut f = spool::fs::File::create(&p).await.unwrap();
                for chunk in data.chunks(65_537) {
                    f.write_all(chunk).await.unwrap();
                }
                f.flush().await.unwrap();
                f.sync_all().await.unwrap();
                assert_eq!(f.metadata().await.unwrap().len(), data.len() as u64);
                let mut f = spool::fs::File::open(&p).await.unwrap();
                let mut head = [0u8; 10];
                f.read_exact(&mut head).await.unwrap();
                let mut rest = Vec::new();
                f.read_to_end(&mut rest).await.unwrap();
                // At the end: reads give 0.
                assert_eq!(f.read(&mut head).await.unwrap(), 0);
                let mut all = head.to_vec();
                all.extend(rest);
                all
            }
        });
        assert_eq!(back.len(), data.len());
        assert!(back == data, "the bytes read back differ");
        std::fs::remove_file(&p).unwrap();
    });
}

#[test]
fn a_write_after_a_buffered_read_lands_where_the_reader_stands() {
    within_60s(|| {
        let rt = spool::Builder::new().procs(2).build().unwrap();
        let p = temp("mixed");
        std::fs::write(&p, b"0123456789").unwrap();
        rt.run({
            let p = p.clone();
            async move {
                let std = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&p)
                    .unwrap();
                let mut f = spool::fs::File::from_std(std);
                let mut two = [0u8; 2];
                // The pool reads ahead (the whole file); two bytes are consumed.
                f.read_exact(&mut two).await.unwrap();
                assert_eq!(&two, b"01");
                f.write_all(b"ab").await.unwrap();
                f.close().await.unwrap();
            }
        });
        assert_eq!(std::fs::read(&p).unwrap(), b"01ab456789");
        std::fs::remove_file(&p).unwrap();
    });
}
