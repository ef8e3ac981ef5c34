//! Exports of a sync's record lists (*More → Export*), as CSV or XLSX, made in the
//! background by the job queue so that a list of a million records never holds a
//! request open. The file is written under `$TANDEM_DATA_DIR/exports/`, streamed from
//! the index in keyset batches (memory stays flat), and renamed into place only when
//! complete. When it is ready, the person who asked hears it in the notification
//! centre and by email (when SMTP is configured). The link, `GET /exports/{id}`, needs
//! a signed-in user of the same portal and expires after [`TTL_HOURS`]; expired files
//! are deleted by the next export job.

use super::definition;
use super::index::{self, IndexRow, Selection};
use super::queue::{self, Job, NewJob};
use super::runner::{BatchError, Outcome};
use super::troubleshoot;
use super::EngineError;
use crate::model::{
    ExportFormat, ExportStatus, ExportView, ReasonCode, RecordState, Refusal, Refused,
};
use crate::platform::notifications::{notify_user, NewNotification};
use crate::platform::Config;
use sqlx::{PgConnection, PgPool};
use std::path::{Path, PathBuf};
use std::time::Duration;
use uuid::Uuid;

/// The job kind the worker dispatches here.
pub const KIND: &str = "export";
/// How long a download link works.
pub const TTL_HOURS: i64 = 24;
/// Exports one person may have queued or running at once: each holds a worker.
pub const MAX_UNFINISHED_PER_USER: i64 = 3;
/// Index rows read per query while writing.
const BATCH: i64 = 5000;
/// An XLSX sheet holds 1,048,576 rows: one header and this many records, then a new sheet.
const XLSX_ROWS_PER_SHEET: u32 = 1_048_575;

/// The columns of every export, in order.
pub const COLUMNS: [&str; 11] = [
    "Record",
    "State",
    "Reason",
    "Reason code",
    "Message",
    "Field",
    "Hub id",
    "App id",
    "Deleted in",
    "Last synced (UTC)",
    "Updated (UTC)",
];

#[derive(Debug, Clone, sqlx::FromRow)]
struct ExportRow {
    id: Uuid,
    portal_id: Uuid,
    user_id: Option<Uuid>,
    sync_id: Option<Uuid>,
    title: String,
    state: Option<RecordState>,
    reason: Option<ReasonCode>,
    search: Option<String>,
    format: String,
    status: String,
    rows: i64,
    file_name: String,
    error: Option<String>,
    created_at: chrono::DateTime<chrono::Utc>,
    finished_at: Option<chrono::DateTime<chrono::Utc>>,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

const EXPORT_COLUMNS: &str =
    "id, portal_id, user_id, sync_id, title, state, reason, search, format, status, rows,
    file_name, error, created_at, finished_at, expires_at";

fn format_of(s: &str) -> ExportFormat {
    if s == "xlsx" {
        ExportFormat::Xlsx
    } else {
        ExportFormat::Csv
    }
}

fn status_of(row: &ExportRow) -> ExportStatus {
    match row.status.as_str() {
        "queued" => ExportStatus::Queued,
        "running" => ExportStatus::Running,
        "failed" => ExportStatus::Failed,
        "ready" if row.expires_at.is_some_and(|e| e > chrono::Utc::now()) => ExportStatus::Ready,
        _ => ExportStatus::Expired,
    }
}

/// The download link of an export.
pub fn download_path(id: Uuid) -> String {
    format!("/exports/{id}")
}

fn view(row: &ExportRow) -> ExportView {
    let status = status_of(row);
    ExportView {
        id: row.id,
        sync_id: row.sync_id,
        title: row.title.clone(),
        format: format_of(&row.format),
        status,
        rows: row.rows,
        file_name: row.file_name.clone(),
        download_url: (status == ExportStatus::Ready).then(|| download_path(row.id)),
        error: row.error.clone(),
        created_at: row.created_at,
        finished_at: row.finished_at,
        expires_at: row.expires_at,
    }
}

/// Where an export's file lives.
pub fn file_path(data_dir: &Path, id: Uuid, format: ExportFormat) -> PathBuf {
    data_dir
        .join("exports")
        .join(format!("{id}.{}", format.extension()))
}

fn state_title(state: Option<RecordState>) -> &'static str {
    state.map_or("All", RecordState::label)
}

/// What *More → Export* asks for.
#[derive(Debug, Clone, Default)]
pub struct ExportRequest {
    pub selection: Selection,
    pub format: ExportFormat,
}

/// Records an export and queues its job; the caller polls [`status`].
pub async fn start(
    pool: &PgPool,
    portal_id: Uuid,
    user_id: Uuid,
    sync_id: Uuid,
    r: &ExportRequest,
) -> Result<ExportView, EngineError> {
    let sync = definition::get(pool, portal_id, sync_id).await?;
    let account: Option<(String, String)> =
        sqlx::query_as("SELECT app, account_name FROM connections WHERE id = $1")
            .bind(sync.connection_id)
            .fetch_optional(pool)
            .await?;
    let (app, account) = account.unwrap_or_default();
    let app_name = crate::connectors::registry::listings()
        .into_iter()
        .find(|l| l.id == app)
        .map(|l| l.name)
        .unwrap_or(app);
    let state_word = state_title(r.selection.state);
    let title = format!("{state_word} {} · {app_name} ({account})", sync.hub_object);
    let file_name = format!(
        "tandem-{}-{}-{}.{}",
        sync.hub_object,
        state_word.to_lowercase(),
        chrono::Utc::now().format("%Y%m%d-%H%M"),
        r.format.extension()
    );
    fn trimmed(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }
    let search = trimmed(&r.selection.search);
    let reason = r.selection.reason;
    let mut tx = pool.begin().await?;
    // One person's starts take turns, so two clicks cannot both pass the checks below.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!("{KIND}:{user_id}"))
        .execute(&mut *tx)
        .await?;
    let same: Option<ExportRow> = sqlx::query_as(&format!(
        "SELECT {EXPORT_COLUMNS} FROM exports
         WHERE user_id = $1 AND sync_id = $2 AND status IN ('queued', 'running') AND format = $3
           AND state IS NOT DISTINCT FROM $4 AND reason IS NOT DISTINCT FROM $5
           AND search IS NOT DISTINCT FROM $6
         LIMIT 1"
    ))
    .bind(user_id)
    .bind(sync_id)
    .bind(r.format.extension())
    .bind(r.selection.state)
    .bind(reason)
    .bind(search)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(same) = same {
        return Ok(view(&same));
    }
    let unfinished: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM exports WHERE user_id = $1 AND status IN ('queued', 'running')",
    )
    .bind(user_id)
    .fetch_one(&mut *tx)
    .await?;
    if unfinished >= MAX_UNFINISHED_PER_USER {
        return Err(Refused::new(Refusal::TooManyExports, format!(
            "You already have {unfinished} exports being made."
        ))
        .with_hint("Start this one when one of them is ready (you will find it in the notification centre).").into());
    }
    let row: ExportRow = sqlx::query_as(&format!(
        "INSERT INTO exports (portal_id, user_id, sync_id, title, state, reason, search, format, file_name)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {EXPORT_COLUMNS}"
    ))
    .bind(portal_id)
    .bind(user_id)
    .bind(sync_id)
    .bind(&title)
    .bind(r.selection.state)
    .bind(reason)
    .bind(search)
    .bind(r.format.extension())
    .bind(&file_name)
    .fetch_one(&mut *tx)
    .await?;
    queue::enqueue(
        &mut tx,
        NewJob {
            kind: KIND,
            sync_id: None,
            dedupe_key: Some(format!("{KIND}:{}", row.id)),
            payload: serde_json::json!({ "export_id": row.id }),
            delay: Duration::ZERO,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(view(&row))
}

/// An export of the portal, for `export_status`.
pub async fn status(pool: &PgPool, portal_id: Uuid, id: Uuid) -> Result<ExportView, EngineError> {
    get(pool, portal_id, id).await.map(|r| view(&r))
}

async fn get(pool: &PgPool, portal_id: Uuid, id: Uuid) -> Result<ExportRow, EngineError> {
    sqlx::query_as(&format!(
        "SELECT {EXPORT_COLUMNS} FROM exports WHERE id = $1 AND portal_id = $2"
    ))
    .bind(id)
    .bind(portal_id)
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| Refused::not_found("The export").into())
}

/// The file to send for `GET /exports/{id}`: the path and the name to download it as.
pub async fn for_download(
    pool: &PgPool,
    config: &Config,
    portal_id: Uuid,
    id: Uuid,
) -> Result<(PathBuf, String), EngineError> {
    let row = get(pool, portal_id, id).await?;
    match status_of(&row) {
        ExportStatus::Ready => {}
        ExportStatus::Queued | ExportStatus::Running => {
            return Err(Refused::conflict("This export is still being made.")
                .with_hint("You will find the link in the notification centre when it is ready.")
                .into())
        }
        ExportStatus::Failed => {
            return Err(Refused::conflict(format!(
                "This export failed: {}",
                row.error.as_deref().unwrap_or("no reason recorded")
            ))
            .with_hint("Start a new export from the record list (More → Export).")
            .into())
        }
        ExportStatus::Expired => {
            return Err(Refused::new(
                Refusal::Expired,
                format!("This download link expired (links work for {TTL_HOURS} hours)."),
            )
            .with_hint("Start a new export from the record list (More → Export).")
            .into())
        }
    }
    let path = file_path(&config.data_dir, row.id, format_of(&row.format));
    if !path.exists() {
        return Err(Refused::new(
            Refusal::Expired,
            "The export's file is no longer on the server.",
        )
        .with_hint("Start a new export from the record list (More → Export).")
        .into());
    }
    Ok((path, row.file_name))
}

/// The cells of one record's line, in the order of [`COLUMNS`].
fn cells(r: &IndexRow) -> [String; 11] {
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default()
    };
    [
        r.label.clone(),
        r.state.visible().to_string(),
        r.reason_code
            .map(|c| troubleshoot::guide(c).title.to_string())
            .unwrap_or_default(),
        r.reason_code.map(|c| c.to_string()).unwrap_or_default(),
        r.message.clone().unwrap_or_default(),
        r.field.clone().unwrap_or_default(),
        r.hub_id.map(|h| h.to_string()).unwrap_or_default(),
        r.app_id.clone().unwrap_or_default(),
        match r.deleted_side.as_deref() {
            Some("hub") => "hub".into(),
            Some("app") => "app".into(),
            _ => String::new(),
        },
        time(r.last_synced_at),
        time(Some(r.updated_at)),
    ]
}

/// The next lines of an export: the selection of the list it was started from.
async fn lines(
    conn: &mut PgConnection,
    sync_id: Uuid,
    row: &ExportRow,
    after: i64,
) -> sqlx::Result<Vec<IndexRow>> {
    let selection = Selection {
        state: row.state,
        reason: row.reason,
        search: row.search.clone(),
    };
    index::select(conn, sync_id, &selection, after, BATCH).await
}

/// A CSV cell that a spreadsheet would take for a formula gets a leading `'`.
pub fn csv_safe(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

/// Exports hold a portal's records: readable by Tandem's user only, like the key file.
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

enum Sink {
    Csv(Box<csv::Writer<std::fs::File>>),
    Xlsx {
        book: Box<rust_xlsxwriter::Workbook>,
        sheet: usize,
        row: u32,
    },
}

fn xlsx_err(e: rust_xlsxwriter::XlsxError) -> anyhow::Error {
    anyhow::anyhow!("writing the XLSX file: {e}")
}

impl Sink {
    fn open(format: ExportFormat, path: &Path) -> anyhow::Result<Sink> {
        match format {
            ExportFormat::Csv => {
                let mut w = csv::Writer::from_writer(create_private(path)?);
                w.write_record(COLUMNS)?;
                Ok(Sink::Csv(Box::new(w)))
            }
            ExportFormat::Xlsx => {
                let mut book = Box::new(rust_xlsxwriter::Workbook::new());
                Self::add_sheet(&mut book, 0)?;
                Ok(Sink::Xlsx {
                    book,
                    sheet: 0,
                    row: 1,
                })
            }
        }
    }

    fn add_sheet(book: &mut rust_xlsxwriter::Workbook, index: usize) -> anyhow::Result<()> {
        let bold = rust_xlsxwriter::Format::new().set_bold();
        let ws = book.add_worksheet_with_constant_memory();
        ws.set_name(if index == 0 {
            "Records".to_string()
        } else {
            format!("Records {}", index + 1)
        })
        .map_err(xlsx_err)?;
        for (c, title) in COLUMNS.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, *title, &bold)
                .map_err(xlsx_err)?;
        }
        Ok(())
    }

    fn write(&mut self, cells: &[String]) -> anyhow::Result<()> {
        match self {
            Sink::Csv(w) => w.write_record(cells.iter().map(|c| csv_safe(c).into_owned()))?,
            Sink::Xlsx { book, sheet, row } => {
                if *row > XLSX_ROWS_PER_SHEET {
                    *sheet += 1;
                    *row = 1;
                    Self::add_sheet(book, *sheet)?;
                }
                let ws = book.worksheet_from_index(*sheet).map_err(xlsx_err)?;
                for (c, v) in cells.iter().enumerate() {
                    // Ids are numbers in the hub: keep them numbers so the sheet sorts them.
                    if c == 6 && !v.is_empty() {
                        if let Ok(n) = v.parse::<f64>() {
                            ws.write_number(*row, c as u16, n).map_err(xlsx_err)?;
                            continue;
                        }
                    }
                    if !v.is_empty() {
                        ws.write_string(*row, c as u16, v).map_err(xlsx_err)?;
                    }
                }
                *row += 1;
            }
        }
        Ok(())
    }

    async fn finish(self, path: PathBuf) -> anyhow::Result<()> {
        match self {
            Sink::Csv(mut w) => {
                w.flush()?;
                Ok(())
            }
            Sink::Xlsx { mut book, .. } => {
                tokio::task::spawn_blocking(move || {
                    book.save_to_writer(create_private(&path)?)
                        .map_err(xlsx_err)
                })
                .await?
            }
        }
    }
}

/// Writes the file; returns how many records it holds.
async fn write_file(
    pool: &PgPool,
    config: &Config,
    row: &ExportRow,
    job: &Job,
) -> anyhow::Result<i64> {
    let sync_id = row
        .sync_id
        .ok_or_else(|| anyhow::anyhow!("the sync was deleted before its export ran"))?;
    let format = format_of(&row.format);
    let path = file_path(&config.data_dir, row.id, format);
    let dir = path
        .parent()
        .ok_or_else(|| anyhow::anyhow!("no export folder"))?;
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let part = dir.join(format!("{}.{}.part", row.id, job.id));
    let mut sink = Sink::open(format, &part)?;
    let mut conn = pool.acquire().await?;
    let (mut after, mut n) = (0i64, 0i64);
    loop {
        let batch = lines(&mut conn, sync_id, row, after).await?;
        let Some(last) = batch.last() else { break };
        after = last.id;
        for line in &batch {
            sink.write(&cells(line))?;
        }
        n += batch.len() as i64;
        // A long export keeps its lease, so no other worker starts it again.
        queue::extend(&mut conn, job, super::worker::lease()).await?;
    }
    drop(conn);
    sink.finish(part.clone()).await?;
    std::fs::rename(&part, &path)?;
    Ok(n)
}

/// The `export` job: writes the file, then tells the person who asked.
pub async fn run(pool: &PgPool, config: &Config, job: &Job) -> Result<Outcome, BatchError> {
    let id = job
        .payload
        .get("export_id")
        .and_then(|v| v.as_str())
        .and_then(|s| Uuid::parse_str(s).ok());
    let row: Option<ExportRow> = match id {
        Some(id) => {
            sqlx::query_as(&format!(
                "SELECT {EXPORT_COLUMNS} FROM exports WHERE id = $1"
            ))
            .bind(id)
            .fetch_optional(pool)
            .await?
        }
        None => None,
    };
    let Some(row) = row.filter(|r| matches!(r.status.as_str(), "queued" | "running")) else {
        // Gone, or already finished by an earlier run of this job.
        let mut tx = pool.begin().await?;
        if queue::complete(&mut tx, job).await? {
            tx.commit().await?;
        }
        return Ok(Outcome::Done);
    };
    sqlx::query("UPDATE exports SET status = 'running' WHERE id = $1")
        .bind(row.id)
        .execute(pool)
        .await?;
    let result = write_file(pool, config, &row, job).await;
    let mut tx = pool.begin().await?;
    match &result {
        Ok(n) => {
            sqlx::query(
                "UPDATE exports SET status = 'ready', rows = $2, error = NULL, finished_at = now(),
                     expires_at = now() + make_interval(hours => $3) WHERE id = $1",
            )
            .bind(row.id)
            .bind(n)
            .bind(TTL_HOURS as i32)
            .execute(&mut *tx)
            .await?;
        }
        Err(e) => {
            tracing::warn!(export = %row.id, error = %format!("{e:#}"), "export failed");
            sqlx::query("UPDATE exports SET status = 'failed', error = $2, finished_at = now() WHERE id = $1")
                .bind(row.id)
                .bind(format!("{e:#}"))
                .execute(&mut *tx)
                .await?;
        }
    }
    if !queue::complete(&mut tx, job).await? {
        // Another worker took the job over; it finishes it.
        return Ok(Outcome::Done);
    }
    tx.commit().await?;
    tell(pool, config, &row, &result).await;
    if let Err(e) = purge_expired(pool, config).await {
        tracing::warn!(error = %e, "removing expired exports failed");
    }
    Ok(Outcome::Done)
}

async fn tell(pool: &PgPool, config: &Config, row: &ExportRow, result: &anyhow::Result<i64>) {
    let Some(user_id) = row.user_id else { return };
    let link = download_path(row.id);
    let (kind, title, body, link) = match result {
        Ok(n) => (
            "export_ready",
            format!("Your export is ready: {}", row.title),
            format!(
                "{n} record{} in {}. The download link works for {TTL_HOURS} hours, for signed-in users of this portal.",
                if *n == 1 { "" } else { "s" },
                row.file_name
            ),
            Some(link.as_str()),
        ),
        Err(e) => (
            "export_failed",
            format!("Your export failed: {}", row.title),
            format!("{e:#}. Start it again from the record list (More → Export)."),
            None,
        ),
    };
    if let Err(e) = notify_user(
        pool,
        row.portal_id,
        user_id,
        NewNotification {
            kind,
            title: &title,
            body: &body,
            link,
        },
    )
    .await
    {
        tracing::warn!(error = %e, "notification failed");
    }
    if config.smtp_url.is_some() {
        let to: Option<String> = sqlx::query_scalar("SELECT email FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(pool)
            .await
            .ok()
            .flatten();
        let text = match link {
            Some(l) => format!("{body}\n\nDownload it: {}{l}", config.public_url),
            None => body.clone(),
        };
        if let Some(to) = to {
            if let Err(e) = crate::platform::email::send(config, &[to], &title, &text).await {
                tracing::warn!(error = %e, "email failed");
            }
        }
    }
}

/// Deletes the files of exports whose link expired and marks them expired.
pub async fn purge_expired(pool: &PgPool, config: &Config) -> anyhow::Result<u64> {
    let expired: Vec<(Uuid, String)> = sqlx::query_as(
        "UPDATE exports SET status = 'expired' WHERE status = 'ready' AND expires_at <= now() RETURNING id, format",
    )
    .fetch_all(pool)
    .await?;
    for (id, format) in &expired {
        let path = file_path(&config.data_dir, *id, format_of(format));
        if let Err(e) = std::fs::remove_file(&path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(path = %path.display(), error = %e, "could not remove an expired export");
            }
        }
    }
    Ok(expired.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_that_look_like_formulas_are_quoted_in_csv() {
        assert_eq!(csv_safe("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(csv_safe("+33 1 23"), "'+33 1 23");
        assert_eq!(csv_safe("@home"), "'@home");
        assert_eq!(csv_safe("ada@example.com"), "ada@example.com");
        assert_eq!(csv_safe(""), "");
    }
}
