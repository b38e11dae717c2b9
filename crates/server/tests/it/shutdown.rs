//! Graceful shutdown: requests in flight are answered, and a client that
//! connects and never finishes its TLS handshake does not hold it up.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::StatusCode;
use serde_json::Value;
use wasm_validate_engine::Engine;
use wasm_validate_server::Options;

use crate::serve::{Running, endless, post_trusting, privileged_pod, review, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_answers_every_request_in_flight() {
    // Each request takes a while (a policy that burns its billion fuel, a
    // few hundred ms), six of them on two workers, and the stop comes while
    // they run or wait: each still gets its answer.
    let engine = Engine::default();
    let set = endless(&engine, 1_000_000_000);
    let options = Options {
        workers: 2,
        ..Options::default()
    };
    let mut server = start("shutdown", engine, set, options).await;
    let started = Instant::now();
    let server_ref = Arc::new((
        server.secure,
        server.health,
        server.ca.clone(),
        server.dir.clone(),
    ));
    let mut requests = Vec::new();
    for _ in 0..6 {
        let running = Running {
            secure: server_ref.0,
            health: server_ref.1,
            ca: server_ref.2.clone(),
            dir: server_ref.3.clone(),
            stop: None,
            task: tokio::spawn(async { Ok(()) }),
        };
        requests.push(tokio::spawn(async move {
            post_trusting(
                &running,
                std::slice::from_ref(&running.ca),
                "/validate",
                review(privileged_pod()),
            )
            .await
        }));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.stop.take().unwrap().send(()).unwrap();
    let stopped = started.elapsed();
    for request in requests {
        let (status, body) = request
            .await
            .unwrap()
            .expect("answered despite the shutdown");
        assert_eq!(status, StatusCode::OK);
        let answer: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(answer["response"]["status"]["code"], 500);
    }
    // The answers came well after the stop: they were running or waiting
    // when it came.
    assert!(
        started.elapsed() > stopped + Duration::from_millis(200),
        "stopped at {stopped:?}, answered by {:?}",
        started.elapsed()
    );
    server.task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_finishes_its_handshake_does_not_hold_up_shutdown() {
    let engine = Engine::default();
    let set = endless(&engine, 1_000);
    let options = Options {
        handshake_timeout: Duration::from_millis(300),
        ..Options::default()
    };
    let mut server = start("silent-client", engine, set, options).await;
    // Connected, and silent: no ClientHello ever comes.
    let silent = tokio::net::TcpStream::connect(server.secure).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    server.stop.take().unwrap().send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), &mut server.task)
        .await
        .expect("the server stopped although a client never finished its handshake")
        .unwrap()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(silent);
}
