//! Benchmark of the hub at scale (`make bench`, through scripts/bench.sh; not part of
//! `make test`): loads 1,000,000 contacts with the data generator (what
//! `tandem seed --contacts 1000000` runs), then times the contacts list — first page and
//! a page 90% of the way in — through `hub::records::list`, the function behind the
//! list page's server function. Each figure is the median of several runs after a
//! warm-up. Prints `BENCH <name> <value> <unit>` lines.
//!
//! Environment: `DATABASE_URL` (a database of its own; bench.sh makes a fresh one),
//! `BENCH_CONTACTS` (default 1000000), `BENCH_RUNS` (default 15).

use std::time::Instant;
use tandem::hub::generator::{self, GenerateOptions};
use tandem::hub::records::{self, ListQuery, Sort, SortDir};
use tandem::hub::schema;
use tandem::model::crm::ObjectType;
use tandem::platform::{db, portals};
use uuid::Uuid;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `f` a few times to warm up, then `runs` times; answers the median in ms.
async fn median_ms<F, Fut>(runs: u64, mut f: F) -> anyhow::Result<f64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<usize>>,
{
    for _ in 0..3 {
        f().await?;
    }
    let mut times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let n = f().await?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(n > 0, "the page came back empty");
    }
    times.sort_by(|a, b| a.total_cmp(b));
    Ok(times[times.len() / 2])
}

async fn list_page(pool: &sqlx::PgPool, portal: Uuid, q: &ListQuery) -> anyhow::Result<usize> {
    let page = records::list(pool, portal, ObjectType::Contacts, q)
        .await
        .map_err(|e| anyhow::anyhow!("list failed: {}", e))?;
    Ok(page.records.len())
}

/// The id at `offset` in a sort order (setup only; the timed calls never use OFFSET).
async fn id_at(pool: &sqlx::PgPool, portal: Uuid, order: &str, offset: i64) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT id FROM hub_records WHERE portal_id = $1 AND object = 'contacts' AND archived_at IS NULL
         ORDER BY {order} OFFSET $2 LIMIT 1"
    ))
    .bind(portal)
    .bind(offset)
    .fetch_one(pool)
    .await?)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("DATABASE_URL")
        .map_err(|_| anyhow::anyhow!("set DATABASE_URL (scripts/bench.sh does)"))?;
    let contacts = env_num("BENCH_CONTACTS", 1_000_000);
    let runs = env_num("BENCH_RUNS", 15);
    let pool = db::migrate(&url).await?;
    let portal = portals::ensure(&pool, "bench", "Benchmark portal").await?;
    anyhow::ensure!(
        records::count_all(&pool, portal).await? == 0,
        "the bench portal already has records; give the benchmark a fresh database"
    );

    eprintln!("seeding {contacts} contacts…");
    let t = Instant::now();
    generator::generate(
        &pool,
        portal,
        &GenerateOptions {
            contacts,
            companies: 0,
            deals: 0,
            invoices: 0,
            seed: 1,
        },
    )
    .await?;
    println!(
        "BENCH seed_1m_contacts_s {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let deep = (contacts as f64 * 0.9) as i64;
    let page = |sort: Sort| ListQuery {
        sort,
        limit: 25,
        ..ListQuery::default()
    };

    // The page's default order: newest first.
    let first = page(Sort::newest_first());
    let ms = median_ms(runs, || list_page(&pool, portal, &first)).await?;
    println!("BENCH contacts_list_first_page_ms {ms:.2} ms");
    let id = id_at(&pool, portal, "created_at DESC, id DESC", deep).await?;
    let cursor = records::cursor_at(&pool, portal, ObjectType::Contacts, &first.sort, id)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let deep_q = ListQuery {
        after: Some(cursor),
        ..first.clone()
    };
    let ms = median_ms(runs, || list_page(&pool, portal, &deep_q)).await?;
    println!("BENCH contacts_list_deep_page_ms {ms:.2} ms");

    // Sorted by a column (last name, with ties and missing values).
    let by_name = page(Sort {
        property: "lastname".into(),
        dir: SortDir::Asc,
    });
    let ms = median_ms(runs, || list_page(&pool, portal, &by_name)).await?;
    println!("BENCH contacts_list_sorted_first_page_ms {ms:.2} ms");
    let id = id_at(
        &pool,
        portal,
        "lower(properties->>'lastname') ASC NULLS LAST, id",
        deep,
    )
    .await?;
    let cursor = records::cursor_at(&pool, portal, ObjectType::Contacts, &by_name.sort, id)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let deep_q = ListQuery {
        after: Some(cursor),
        ..by_name.clone()
    };
    let ms = median_ms(runs, || list_page(&pool, portal, &deep_q)).await?;
    println!("BENCH contacts_list_sorted_deep_page_ms {ms:.2} ms");
    let back = ListQuery {
        after: None,
        before: deep_q.after.clone(),
        ..by_name.clone()
    };
    let ms = median_ms(runs, || list_page(&pool, portal, &back)).await?;
    println!("BENCH contacts_list_sorted_previous_page_ms {ms:.2} ms");

    // The search box.
    let search = ListQuery {
        search: Some("müller".into()),
        ..page(Sort::newest_first())
    };
    let ms = median_ms(runs, || list_page(&pool, portal, &search)).await?;
    println!("BENCH contacts_search_ms {ms:.2} ms");

    // Matching lookup of the sync engine.
    let ms = median_ms(runs, || async {
        Ok(
            records::find_contacts_by_email(&pool, portal, " Anna.Smith500000@Gmail.com ")
                .await?
                .len()
                .max(1),
        )
    })
    .await?;
    println!("BENCH contacts_find_by_email_ms {ms:.2} ms");

    let schema = schema::load(&pool, portal, ObjectType::Contacts).await?;
    let mut conn = pool.acquire().await?;
    let plan = records::explain_list(&mut conn, &schema, portal, &deep_q)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    eprintln!("plan of the sorted deep page:\n{plan}");
    Ok(())
}
