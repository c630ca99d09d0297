use super::*;

#[test]
fn each_owner_has_their_own_slots_and_dropping_frees_them() {
    let slots = UploadSlots::new(2, usize::MAX);
    let (alice, bob) = (UserId(1), UserId(2));
    let first = slots.try_acquire(alice).expect("first slot");
    let second = slots.try_acquire(alice).expect("second slot");
    assert_eq!(slots.try_acquire(alice).unwrap_err(), Full::Owner);
    // Another account is not held up by alice's uploads.
    let bobs = slots.try_acquire(bob).expect("bob's slot");
    assert_eq!(slots.in_progress(alice), 2);
    drop(first);
    assert_eq!(slots.in_progress(alice), 1);
    let third = slots.try_acquire(alice).expect("a slot freed by the first");
    drop((second, third, bobs));
    assert_eq!((slots.in_progress(alice), slots.in_progress(bob)), (0, 0));
    let held = slots.held.lock().unwrap();
    assert!(
        held.per_key.is_empty() && held.total == 0,
        "nobody is remembered"
    );
}

#[test]
fn the_total_caps_all_owners_together() {
    let slots = Slots::<u8>::new(2, 3);
    let _a = (slots.try_acquire(1).unwrap(), slots.try_acquire(1).unwrap());
    let b = slots.try_acquire(2).unwrap();
    assert_eq!(slots.try_acquire(3).unwrap_err(), Full::Total);
    drop(b);
    assert!(slots.try_acquire(3).is_ok());
}

#[test]
fn at_least_one_slot() {
    let slots = UploadSlots::new(0, 0);
    assert_eq!(slots.per_owner(), 1);
    assert!(slots.try_acquire(UserId(1)).is_ok());
}

#[tokio::test]
async fn a_download_nobody_reads_frees_its_slot_and_then_ends() {
    use futures_util::StreamExt;

    let slots = DownloadSlots::new(1, 4);
    let client = ip("192.0.2.1");
    let idle = Duration::from_secs(1);
    // A body that says when it is dropped (as a storage stream closes its file).
    let dropped = Arc::new(std::sync::atomic::AtomicBool::new(false));
    struct Tell(Arc<std::sync::atomic::AtomicBool>);
    impl Drop for Tell {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let tell = Tell(dropped.clone());
    let bytes =
        futures_util::stream::iter([Ok::<_, std::io::Error>(1u8), Ok(2)]).map(move |item| {
            let _ = &tell;
            item
        });
    let mut body = Watched::new(bytes, slots.try_acquire(client).unwrap(), idle);
    assert_eq!(body.next().await.unwrap().unwrap(), 1);
    // Just read: the slot is held.
    assert_eq!(slots.in_progress(client), 1);
    assert_eq!(slots.try_acquire(client).unwrap_err(), Full::Owner);
    // Nobody reads any more: the slot is freed (bounded wait; the watchdog needs a turn
    // of a busy machine's scheduler), and the body then ends with an error.
    let waited = Instant::now();
    while slots.in_progress(client) > 0 {
        assert!(
            waited.elapsed() < Duration::from_secs(10),
            "the slot was never freed"
        );
        tokio::time::sleep(idle / 4).await;
    }
    let next = slots.try_acquire(client).expect("a new download is let in");
    assert!(
        dropped.load(Ordering::SeqCst),
        "the body went with the slot"
    );
    let err = body.next().await.unwrap().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    drop((body, next));
    assert_eq!(slots.in_progress(client), 0);
}

#[tokio::test]
async fn a_download_waiting_on_storage_past_the_limit_ends_instead_of_hanging() {
    use futures_util::StreamExt;

    let slots = DownloadSlots::new(1, 4);
    let client = ip("192.0.2.2");
    // Storage that never answers: its stream is pending for ever.
    let stalled = futures_util::stream::pending::<Result<u8, std::io::Error>>();
    let mut body = Watched::new(
        stalled,
        slots.try_acquire(client).unwrap(),
        Duration::from_millis(200),
    );
    // The server's wait for the next chunk ends: it is woken (the bound is checked first,
    // so that only a wake-up can end the wait before it).
    let next = tokio::select! {
        biased;
        () = tokio::time::sleep(Duration::from_secs(10)) => panic!("never woken"),
        next = body.next() => next,
    };
    assert_eq!(
        next.unwrap().unwrap_err().kind(),
        std::io::ErrorKind::TimedOut
    );
    assert_eq!(slots.in_progress(client), 0);
}

#[tokio::test]
async fn a_finished_download_frees_its_slot_at_once() {
    let slots = DownloadSlots::new(1, 4);
    let client = ip("192.0.2.1");
    let bytes = futures_util::stream::iter([Ok::<_, std::io::Error>(1u8)]);
    let body = Watched::new(
        bytes,
        slots.try_acquire(client).unwrap(),
        DOWNLOAD_IDLE_TIMEOUT,
    );
    drop(body);
    assert_eq!(slots.in_progress(client), 0);
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn the_client_is_the_peer_unless_a_trusted_proxy_names_it() {
    let proxy = ip("10.0.0.1");
    let trusted = [proxy, ip("10.0.0.2")];
    // No proxy trusted: the peer, whatever the header says.
    assert_eq!(
        client_key(Some(ip("203.0.113.9")), Some("198.51.100.1"), &[]),
        ip("203.0.113.9")
    );
    assert_eq!(
        client_key(Some(proxy), Some("198.51.100.1"), &[]),
        proxy,
        "an untrusted peer's header is ignored"
    );
    // Behind trusted proxies: the nearest untrusted hop; what the client wrote further
    // left is ignored.
    assert_eq!(
        client_key(
            Some(proxy),
            Some("1.2.3.4, 198.51.100.1, 10.0.0.2"),
            &trusted
        ),
        ip("198.51.100.1")
    );
    assert_eq!(
        client_key(Some(proxy), Some("garbage"), &trusted),
        proxy,
        "an unreadable hop stops at the proxy"
    );
    assert_eq!(client_key(Some(proxy), None, &trusted), proxy);
    // IPv6 by /64; IPv4-mapped as IPv4.
    assert_eq!(
        client_key(Some(ip("2001:db8:1:2:aaaa::1")), None, &[]),
        ip("2001:db8:1:2::")
    );
    assert_eq!(
        client_key(Some(ip("::ffff:192.0.2.7")), None, &[]),
        ip("192.0.2.7")
    );
    assert_eq!(client_key(None, None, &[]), ip("::"));
}
