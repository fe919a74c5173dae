//! Memory: a 100 MiB `export_download` streamed to a sink keeps the heap small. A counting
//! global allocator records the peak of live heap bytes during the download; the server is a
//! plain TCP loop writing the same 64 KiB block, so it holds no copy of the file either.
//! (This file holds one test so that no other test's allocations are counted.)

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use vc_api_tests::counting_alloc::CountingAllocator;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator::new();

const FILE_SIZE: u64 = 100 * 1024 * 1024;
const BLOCK: usize = 64 * 1024;

/// Serves one request with a `FILE_SIZE` body made of one repeated block.
async fn serve_file(listener: TcpListener) {
    let (mut socket, _) = listener.accept().await.expect("client connects");
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = socket.read(&mut buf).await.expect("request arrives");
        assert!(n > 0, "connection closed before the request ended");
        request.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&request);
    assert!(head.starts_with("GET /open-apis/vc/v1/exports/download?file_token=big "), "{head}");
    let header = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: {FILE_SIZE}\r\nconnection: close\r\n\r\n"
    );
    socket.write_all(header.as_bytes()).await.unwrap();
    let block = vec![7u8; BLOCK];
    let mut sent = 0u64;
    while sent < FILE_SIZE {
        socket.write_all(&block).await.expect("client keeps reading");
        sent += BLOCK as u64;
    }
    socket.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_mib_download_keeps_peak_heap_small() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(serve_file(listener));
    let client = vc_api::Client::builder().base_url(url).access_token("t-test").build().unwrap();

    let baseline = ALLOCATOR.baseline();
    let download = client.export_download().file_token("big").data().await.expect("download starts");
    let mut sink = tokio::io::sink();
    let mut updates = 0u64;
    let written = download.write_to(&mut sink, |_| updates += 1).await.expect("download completes");
    let peak_growth = ALLOCATOR.peak_growth(baseline);
    server.await.unwrap();

    assert_eq!(written, FILE_SIZE);
    assert!(updates > 100, "progress reported per chunk ({updates} updates)");
    eprintln!("100 MiB download: peak heap growth {peak_growth} bytes ({:.2} MiB)", peak_growth as f64 / 1048576.0);
    assert!(peak_growth < 4 * 1024 * 1024, "peak heap grew by {peak_growth} bytes for a {FILE_SIZE}-byte file");
}
