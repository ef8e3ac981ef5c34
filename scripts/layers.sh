#!/usr/bin/env bash
# The layering rule of src/ (README, "Layout"): a module imports only the modules listed
# for it here, all of them below it, so the crate's dependencies have no cycle.
# Fails naming each import that breaks the rule.
set -euo pipefail
cd "$(dirname "$0")/../src"

declare -A may_import=(
  [server]="app api engine hub platform connectors model support demo_app"
  [app]="api model"
  [api]="engine hub platform connectors model"
  [engine]="hub platform connectors model"
  [hub]="model"
  [platform]="connectors model support"
  [connectors]="model"
  [demo_app]="support"
  [support]=""
  [model]=""
)

bad=0
for module in "${!may_import[@]}"; do
  paths=("$module")
  [ -f "$module.rs" ] && paths+=("$module.rs")
  [ -d "$module" ] || [ -f "$module.rs" ] || continue
  # Every `crate::<module>` a file names, in `use` lines and in paths alike.
  while IFS=: read -r file line target; do
    [ "$target" = "$module" ] && continue
    case " ${may_import[$module]} " in
      *" $target "*) ;;
      *) echo "$file:$line: \`$module\` imports \`$target\`, which is not below it"; bad=1 ;;
    esac
  done < <(grep -rnoE 'crate::[a-z_]+' "${paths[@]}" 2>/dev/null | sed -E 's/crate::([a-z_]+)$/\1/')
done
# The engine's decision logic is pure: shared DTOs only, no I/O, no web types.
while IFS= read -r hit; do
  echo "$hit: \`engine::plan\` must stay pure (model only; no sqlx, axum, leptos, reqwest)"; bad=1
done < <(grep -rnE 'crate::[a-z_]+|\b(sqlx|axum|leptos|reqwest|tokio)::' engine/plan \
  | grep -vE 'crate::(model|engine::plan)\b' || true)
exit "$bad"
