//! The soak, measured: `cargo bench --bench soak` runs 10 minutes of a steady mixed load through
//! the gateway (`sfgate --config` in front of `sfgate sandbox`, both their own processes) and
//! prints the gateway's resident memory at the start, middle and end, with the calls and errors
//! of each third. Under `cargo test` (no `--bench` argument) it runs for 3 seconds, as a smoke
//! test.
//!
//! The mix, at `RATE` calls a second on a fixed schedule: half GetLead, a fifth FindLeads, a
//! tenth each CreateLead, UpdateLead and LookupByPhone.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sfgate::pb::lead_service_client::LeadServiceClient;
use sfgate::pb::lookup_service_client::LookupServiceClient;
use sfgate::pb::*;
use support::{OrgAndGateway, start_org_and_gateway};
use tonic::transport::Channel;

#[allow(dead_code, reason = "the soak uses only the process helpers")]
mod support;

const API_KEY: &str = "soak-key";
/// Calls a second.
const RATE: u64 = 200;

fn authorized<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(Duration::from_secs(5));
    request
        .metadata_mut()
        .insert("x-tenant-id", "soak".parse().unwrap());
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {API_KEY}").parse().unwrap(),
    );
    request
}

/// One call of the mix; `n` picks which.
async fn call(channel: &Channel, lead_id: &str, n: u64) -> Result<(), tonic::Status> {
    let mut leads = LeadServiceClient::new(channel.clone());
    match n % 10 {
        0..=4 => leads
            .get_lead(authorized(GetLeadRequest {
                id: lead_id.to_owned(),
                fields: None,
            }))
            .await
            .map(drop),
        5 | 6 => leads
            .find_leads(authorized(FindLeadsRequest {
                last_name: "Reed".into(),
                ..FindLeadsRequest::default()
            }))
            .await
            .map(drop),
        7 => leads
            .create_lead(authorized(CreateLeadRequest {
                lead: Some(Lead {
                    last_name: Some(format!("Soak {n}")),
                    company: Some("Soak Co".into()),
                    ..Lead::default()
                }),
            }))
            .await
            .map(drop),
        8 => leads
            .update_lead(authorized(UpdateLeadRequest {
                lead: Some(Lead {
                    id: lead_id.to_owned(),
                    title: Some(format!("Title {n}")),
                    ..Lead::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["title".into()],
                }),
            }))
            .await
            .map(drop),
        _ => LookupServiceClient::new(channel.clone())
            .lookup_by_phone(authorized(LookupByPhoneRequest {
                phone: "(415) 555-0131".into(),
                ..LookupByPhoneRequest::default()
            }))
            .await
            .map(drop),
    }
}

fn main() {
    let full = support::full_run();
    let duration = if full {
        Duration::from_secs(600)
    } else {
        Duration::from_secs(3)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(soak(duration));
}

async fn soak(duration: Duration) {
    let OrgAndGateway {
        gateway,
        org: _org,
        gateway_port,
        ..
    } = start_org_and_gateway("soak", API_KEY, &[]);
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{gateway_port}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
    let lead_id = LeadServiceClient::new(channel.clone())
        .find_leads(authorized(FindLeadsRequest {
            last_name: "Reed".into(),
            ..FindLeadsRequest::default()
        }))
        .await
        .expect("the seeded lead")
        .into_inner()
        .leads[0]
        .id
        .clone();
    let lead_id: Arc<str> = lead_id.into();

    let calls = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let thirds = 3;
    let third = duration / thirds;
    println!("| at | gateway RSS | calls in the third before | errors |");
    println!("|---|---|---|---|");
    println!("| start | {} | | |", gateway.process.resident_memory());
    let started = Instant::now();
    let interval = Duration::from_nanos(1_000_000_000 / RATE);
    let mut next = tokio::time::Instant::now();
    let mut n = 0_u64;
    let mut reported = 0;
    let (mut calls_before, mut errors_before) = (0, 0);
    while reported < thirds {
        next += interval;
        tokio::time::sleep_until(next).await;
        let (channel, lead_id, call_count, error_count) = (
            channel.clone(),
            Arc::clone(&lead_id),
            Arc::clone(&calls),
            Arc::clone(&errors),
        );
        n += 1;
        let which = n;
        tokio::spawn(async move {
            let outcome = call(&channel, &lead_id, which).await;
            call_count.fetch_add(1, Ordering::Relaxed);
            if let Err(status) = outcome
                && error_count.fetch_add(1, Ordering::Relaxed) < 5
            {
                eprintln!("soak call {which} failed: {status:?}");
            }
        });
        if started.elapsed() >= third * (reported + 1) {
            reported += 1;
            let (calls_now, errors_now) = (
                calls.load(Ordering::Relaxed),
                errors.load(Ordering::Relaxed),
            );
            let at = if reported == thirds {
                "end".to_owned()
            } else {
                format!("{:.0} s", started.elapsed().as_secs_f64())
            };
            println!(
                "| {at} | {} | {} | {} |",
                gateway.process.resident_memory(),
                calls_now - calls_before,
                errors_now - errors_before
            );
            (calls_before, errors_before) = (calls_now, errors_now);
        }
    }
    // Let the last calls finish before the count is final.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (calls, errors) = (
        calls.load(Ordering::Relaxed),
        errors.load(Ordering::Relaxed),
    );
    println!(
        "\n{calls} calls in {:.0} s at {RATE}/s, {errors} errors",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(errors, 0, "the soak had errors");
}
