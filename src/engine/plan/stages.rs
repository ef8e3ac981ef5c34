//! Deal pipelines and stages: which hub stage is which app stage.
//!
//! A deal only syncs while it sits in a mapped stage, since its stage could not be
//! written on the other side otherwise. The map is a list of stage pairs, each stage
//! named by pipeline and stage id; [`auto_map`] proposes pairs by label similarity so the
//! admin only corrects the odd one. The map is one-to-one: two hub stages never share an
//! app stage (a two-way sync could not tell which to write back).

use serde::{Deserialize, Serialize};

use super::settings::Side;
use super::values::{same_option, FieldType, Record, Value};

/// A stage within a pipeline, by id. Apps without pipelines use an empty pipeline id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StageRef {
    pub pipeline: String,
    pub stage: String,
}

impl StageRef {
    pub fn new(pipeline: impl Into<String>, stage: impl Into<String>) -> Self {
        StageRef {
            pipeline: pipeline.into(),
            stage: stage.into(),
        }
    }

    /// Ids compare like enumeration options: trimmed, any case.
    pub fn same_as(&self, other: &StageRef) -> bool {
        same_option(&self.pipeline, &other.pipeline) && same_option(&self.stage, &other.stage)
    }
}

/// A stage as listed by the hub or the connector, for auto-mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stage {
    pub pipeline: String,
    pub id: String,
    pub label: String,
}

impl Stage {
    pub fn new(pipeline: &str, id: &str, label: &str) -> Self {
        Stage {
            pipeline: pipeline.into(),
            id: id.into(),
            label: label.into(),
        }
    }

    pub fn stage_ref(&self) -> StageRef {
        StageRef::new(&self.pipeline, &self.id)
    }
}

/// One hub stage paired with one app stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagePair {
    pub hub: StageRef,
    pub app: StageRef,
}

/// The fields a deal keeps its pipeline and stage in, on one side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageFields {
    /// `None` for apps without pipelines.
    pub pipeline: Option<String>,
    pub stage: String,
}

/// The stage mapping of a deal sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageMap {
    pub hub_fields: StageFields,
    pub app_fields: StageFields,
    pub pairs: Vec<StagePair>,
}

impl StageMap {
    /// A map with the hub's fields (`pipeline`, `dealstage`) and the app's.
    pub fn new(app_fields: StageFields, pairs: Vec<StagePair>) -> Self {
        StageMap {
            hub_fields: StageFields {
                pipeline: Some("pipeline".into()),
                stage: "dealstage".into(),
            },
            app_fields,
            pairs,
        }
    }

    pub fn fields(&self, side: Side) -> &StageFields {
        match side {
            Side::Hub => &self.hub_fields,
            Side::App => &self.app_fields,
        }
    }

    /// The deal's current stage on `side`, `None` when it has no stage.
    pub fn read(&self, side: Side, record: &Record) -> Option<StageRef> {
        let fields = self.fields(side);
        let read = |f: &str| Value::read_field(record, f, FieldType::Enumeration).map(|v| v.text());
        let stage = read(&fields.stage)?;
        let pipeline = fields
            .pipeline
            .as_deref()
            .and_then(read)
            .unwrap_or_default();
        Some(StageRef { pipeline, stage })
    }

    /// The stage on side `to` paired with `stage` of the other side.
    pub fn translate(&self, stage: &StageRef, to: Side) -> Option<&StageRef> {
        self.pairs.iter().find_map(|pair| match to {
            Side::App => pair.hub.same_as(stage).then_some(&pair.app),
            Side::Hub => pair.app.same_as(stage).then_some(&pair.hub),
        })
    }

    /// Whether a deal of `side` in `stage` may sync.
    pub fn is_mapped(&self, side: Side, stage: &StageRef) -> bool {
        self.translate(stage, side.other()).is_some()
    }

    /// Writes `stage` into `values` using `side`'s fields (`None` clears them).
    pub fn write(&self, side: Side, stage: Option<&StageRef>, values: &mut Record) {
        let fields = self.fields(side);
        let json = |s: Option<&String>| {
            s.map_or(serde_json::Value::Null, |s| {
                serde_json::Value::String(s.clone())
            })
        };
        if let Some(p) = &fields.pipeline {
            values.insert(p.clone(), json(stage.map(|s| &s.pipeline)));
        }
        values.insert(fields.stage.clone(), json(stage.map(|s| &s.stage)));
    }
}

/// Auto-map's default: below this similarity a stage stays for the admin to map.
pub const AUTO_MAP_THRESHOLD: f64 = 0.6;

/// Stage labels reduced to words: lower case, letters and digits only.
fn words(label: &str) -> Vec<String> {
    label
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// How alike two stage labels are, from 0 to 1: the edit-distance similarity of the
/// normalised labels, or 0.85 when every word of one appears in the other ("Won" and
/// "Closed won"). Jaro-Winkler is avoided on purpose: it rates "Closed won" and "Closed
/// lost" as near twins because of their common prefix.
pub fn similarity(a: &str, b: &str) -> f64 {
    let (wa, wb) = (words(a), words(b));
    if wa.is_empty() || wb.is_empty() {
        return 0.0;
    }
    let edit = strsim::normalized_levenshtein(&wa.join(" "), &wb.join(" "));
    let (short, long) = if wa.len() <= wb.len() {
        (&wa, &wb)
    } else {
        (&wb, &wa)
    };
    let contained = if short.iter().all(|w| long.contains(w)) {
        0.85
    } else {
        0.0
    };
    edit.max(contained)
}

/// Proposes stage pairs between the stages of one hub pipeline and one app pipeline:
/// the most similar pairs first, each stage used at most once, nothing below
/// `threshold`. Ties go to the earlier stages (pipelines list stages in order).
pub fn auto_map(hub: &[Stage], app: &[Stage], threshold: f64) -> Vec<StagePair> {
    let mut scored: Vec<(f64, usize, usize)> = Vec::new();
    for (h, hs) in hub.iter().enumerate() {
        for (a, as_) in app.iter().enumerate() {
            let score = similarity(&hs.label, &as_.label);
            if score >= threshold {
                scored.push((score, h, a));
            }
        }
    }
    scored.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
    let mut hub_used = vec![false; hub.len()];
    let mut app_used = vec![false; app.len()];
    let mut pairs: Vec<(usize, StagePair)> = Vec::new();
    for (_, h, a) in scored {
        if hub_used[h] || app_used[a] {
            continue;
        }
        hub_used[h] = true;
        app_used[a] = true;
        pairs.push((
            h,
            StagePair {
                hub: hub[h].stage_ref(),
                app: app[a].stage_ref(),
            },
        ));
    }
    // Present them in the hub pipeline's order.
    pairs.sort_by_key(|(h, _)| *h);
    pairs.into_iter().map(|(_, p)| p).collect()
}

#[cfg(test)]
#[allow(non_snake_case)] // test names cite the rule: `subject__situation__outcome`
mod tests {
    use super::*;

    #[test]
    fn stages__auto_map_pairs_by_similarity_one_to_one() {
        let hub = [
            Stage::new("default", "appointmentscheduled", "Appointment scheduled"),
            Stage::new("default", "qualifiedtobuy", "Qualified to buy"),
            Stage::new("default", "contractsent", "Contract sent"),
            Stage::new("default", "closedwon", "Closed won"),
            Stage::new("default", "closedlost", "Closed lost"),
            Stage::new("default", "onhold", "On hold"),
        ];
        let app = [
            Stage::new("sales", "1", "Appointment set"),
            Stage::new("sales", "2", "Qualified"),
            Stage::new("sales", "3", "CONTRACT-SENT"),
            Stage::new("sales", "4", "Won"),
            Stage::new("sales", "5", "Lost"),
            Stage::new("sales", "6", "Negotiation"),
        ];
        let got: Vec<(String, String)> = auto_map(&hub, &app, AUTO_MAP_THRESHOLD)
            .into_iter()
            .map(|p| (p.hub.stage, p.app.stage))
            .collect();
        let want = [
            ("appointmentscheduled", "1"),
            ("qualifiedtobuy", "2"),
            ("contractsent", "3"),
            ("closedwon", "4"),
            ("closedlost", "5"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(h, a)| (h.to_string(), a.to_string()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn stages__auto_map_never_maps_two_hub_stages_to_one_app_stage() {
        let hub = [
            Stage::new("p", "a", "Closed won"),
            Stage::new("p", "b", "Closed won (renewal)"),
            Stage::new("p", "c", "Won"),
        ];
        let app = [Stage::new("q", "x", "Closed Won")];
        let pairs = auto_map(&hub, &app, AUTO_MAP_THRESHOLD);
        assert_eq!(pairs.len(), 1);
        assert_eq!(pairs[0].hub.stage, "a");
        // Nothing similar enough: nothing mapped.
        let pairs = auto_map(
            &hub,
            &[Stage::new("q", "y", "Prospecting")],
            AUTO_MAP_THRESHOLD,
        );
        assert!(pairs.is_empty());
    }

    #[test]
    fn stages__translate_both_ways_ignoring_case() {
        let map = StageMap::new(
            StageFields {
                pipeline: None,
                stage: "stage".into(),
            },
            vec![StagePair {
                hub: StageRef::new("default", "closedwon"),
                app: StageRef::new("", "Won"),
            }],
        );
        let won = StageRef::new("", "won");
        assert_eq!(
            map.translate(&won, Side::Hub),
            Some(&StageRef::new("default", "closedwon"))
        );
        assert!(map.is_mapped(Side::App, &won));
        assert!(!map.is_mapped(Side::App, &StageRef::new("", "Lost")));
        assert!(map.is_mapped(Side::Hub, &StageRef::new("Default", "ClosedWon")));
    }
}
