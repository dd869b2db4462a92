// Chinese (zh-CN, the default) and English; the choice is kept in localStorage.

const TEXT = {
  "app.name": ["街面巡查 · 智能审核", "StreetWatch Review"],
  "app.city": ["数字城管", "Digital city management"],
  "nav.review": ["审核队列", "Review queue"],
  "nav.batch": ["批量剔除", "Batch reject"],
  "nav.cases": ["案件看板", "Case board"],
  "nav.map": ["地图", "Map"],
  "nav.dashboard": ["统计分析", "Dashboard"],
  "nav.admin": ["用户管理", "Users"],
  "nav.signout": ["退出", "Sign out"],
  "nav.language": ["English", "中文"],
  "role.viewer": ["查看员", "viewer"],
  "role.reviewer": ["坐席员", "reviewer"],
  "role.supervisor": ["指挥长", "supervisor"],
  "role.admin": ["管理员", "admin"],
  "login.title": ["登录", "Sign in"],
  "login.subtitle": ["城市管理街面问题智能巡查与审核平台", "AI street inspection and review for city management"],
  "login.username": ["用户名", "Username"],
  "login.password": ["密码", "Password"],
  "login.submit": ["登录", "Sign in"],
  "login.failed": ["用户名或密码错误", "Wrong username or password"],
  "common.loading": ["加载中…", "Loading…"],
  "common.all": ["全部", "All"],
  "common.class": ["类别", "Class"],
  "common.district": ["城区", "District"],
  "common.street": ["街道", "Street"],
  "common.state": ["状态", "State"],
  "common.time": ["时间", "Time"],
  "common.score": ["置信度", "Score"],
  "common.place": ["地点", "Place"],
  "common.model": ["模型", "Model"],
  "common.source": ["来源", "Source"],
  "common.note": ["备注", "Note"],
  "common.apply": ["应用", "Apply"],
  "common.cancel": ["取消", "Cancel"],
  "common.none": ["无", "None"],
  "common.since": ["起始日期", "From"],
  "common.until": ["截止日期", "To"],
  "common.noaccess": ["无权访问此页面", "You have no access to this page"],
  "common.deadline": ["处置时限", "Deadline"],
  "common.overdue": ["超期", "Overdue"],
  "common.case": ["案件", "Case"],
  "common.sighting": ["巡查发现", "Sighting"],
  "common.m": ["米", "m"],
  "review.pending": ["待审核", "pending"],
  "review.empty": ["队列已清空，暂无待审核的发现。", "The queue is empty: nothing waits for review."],
  "review.order": ["排序", "Order"],
  "review.order.score": ["置信度高优先", "Most sure first"],
  "review.order.low": ["置信度低优先", "Least sure first"],
  "review.order.time": ["最新优先", "Newest first"],
  "review.order.oldest": ["最早优先", "Oldest first"],
  "review.crop": ["目标截图", "Crop"],
  "review.details": ["详情", "Details"],
  "review.nearCases": ["附近在办案件", "Open cases nearby"],
  "review.earlier": ["同一位置的历史发现", "Earlier sightings of this spot"],
  "review.confirm": ["确认立案", "Confirm"],
  "review.reject": ["误报剔除", "Reject"],
  "review.fixbox": ["修正框并确认", "Fix box & confirm"],
  "review.undo": ["撤销", "Undo"],
  "review.prev": ["上一条", "Previous"],
  "review.next": ["跳过", "Skip"],
  "review.relabel": ["改为", "Relabel as"],
  "review.boxChanged": ["框已修改：确认时将一并保存", "Box changed: confirming saves it"],
  "review.decided": ["已审核", "Decided"],
  "review.done.confirm": ["已确认，案件", "Confirmed, case"],
  "review.done.reject": ["已剔除", "Rejected"],
  "review.done.relabel": ["已改类并确认", "Relabelled and confirmed"],
  "review.done.fix_box": ["已修正框并确认", "Box fixed and confirmed"],
  "review.undone": ["已撤销上一条审核", "Last decision undone"],
  "review.legend": ["快捷键", "Shortcuts"],
  "review.history": ["查看已审核记录（只读）", "Viewing a decided sighting (read-only)"],
  "review.handleHelp": ["拖动四角修正框；或用 Tab 选中角点后按方向键移动（Shift 加速）", "Drag the corners to fix the box, or Tab to a corner and move it with the arrow keys (Shift: faster)"],
  "keys.confirm": ["确认", "confirm"],
  "keys.reject": ["剔除", "reject"],
  "keys.relabel": ["改类", "relabel"],
  "keys.undo": ["撤销", "undo"],
  "keys.prevnext": ["上一条 / 跳过", "previous / skip"],
  "keys.batch": ["批量模式", "batch mode"],
  "keys.legend": ["显示/隐藏快捷键", "show/hide shortcuts"],
  "keys.reset": ["还原框", "reset box"],
  "keys.box": ["拖动角点修正框，回车保存", "drag corners, Enter saves"],
  "batch.title": ["批量剔除误报", "Reject false positives in one go"],
  "batch.help": ["点击或按空格选中明显的误报，按 R 一次性剔除；方向键移动，A 全选，Esc 取消选择。", "Click or press Space to select obvious false positives, R rejects them all; arrows move, A selects all, Esc clears."],
  "batch.selected": ["已选", "selected"],
  "batch.reject": ["剔除所选", "Reject selected"],
  "batch.selectAll": ["全选", "Select all"],
  "batch.rejected": ["已剔除", "Rejected"],
  "cases.title": ["案件看板", "Case board"],
  "cases.rejected": ["不予立案", "Rejected"],
  "cases.more": ["更多", "more"],
  "cases.empty": ["暂无", "None"],
  "cases.due": ["时限", "due"],
  "case.title": ["案件", "Case"],
  "case.evidence": ["取证图片", "Evidence"],
  "case.photos": ["整改照片", "Rectification photos"],
  "case.timeline": ["办理过程", "Timeline"],
  "case.info": ["案件信息", "Case details"],
  "case.spot": ["位置", "Location"],
  "case.department": ["处置部门", "Department"],
  "case.created": ["立案时间", "Filed"],
  "case.satisfaction": ["满意度", "Satisfaction"],
  "case.actions": ["办理", "Actions"],
  "case.noActions": ["当前角色无可办理操作", "Nothing for your role to do here"],
  "case.upload": ["上传整改照片", "Upload rectification photo"],
  "case.photo": ["照片", "Photo"],
  "case.uploaded": ["照片已上传", "Photo uploaded"],
  "case.noteRequired": ["此操作需要填写备注", "This step needs a note"],
  "case.done": ["已办理", "Done"],
  "case.sightings": ["关联发现", "Sightings"],
  "case.by": ["经办人", "by"],
  "case.photoEvent": ["上传整改照片", "rectification photo"],
  "action.dispatched": ["派遣", "Dispatch"],
  "action.handling": ["开始处置", "Start handling"],
  "action.verifying": ["提交核查", "Submit for verification"],
  "action.closed": ["核查通过，结案", "Verified: close"],
  "action.rejected": ["不予立案", "Reject case"],
  "action.filed": ["退回 / 重新立案", "Return / reopen"],
  "action.back": ["核查不通过，退回处置", "Verification failed: back to handling"],
  "dashboard.title": ["统计分析", "Dashboard"],
  "dashboard.days": ["统计周期", "Period"],
  "dashboard.daysN": ["近 {n} 天", "last {n} days"],
  "dashboard.filed": ["立案数", "Filed"],
  "dashboard.closed": ["结案数", "Closed"],
  "dashboard.overdue": ["超期未办结", "Overdue"],
  "dashboard.median": ["结案时长中位数", "Median time to close"],
  "dashboard.hours": ["小时", "h"],
  "dashboard.reply": ["响应率", "Reply rate"],
  "dashboard.completion": ["办结率", "Completion rate"],
  "dashboard.satisfaction": ["满意率", "Satisfaction rate"],
  "dashboard.target": ["目标", "target"],
  "dashboard.met": ["达标", "on target"],
  "dashboard.missed": ["未达标", "below target"],
  "dashboard.trend": ["立案与结案趋势", "Filed and closed over time"],
  "dashboard.backlog": ["在办存量", "Open backlog"],
  "dashboard.byDistrict": ["各城区、街道指标", "By district and street"],
  "dashboard.rates": ["各城区三率对比", "Rates by district"],
  "dashboard.export": ["数据导出", "Export"],
  "dashboard.open": ["在办", "Open"],
  "map.title": ["地图", "Map"],
  "map.cases": ["案件", "Cases"],
  "map.sightings": ["巡查发现", "Sightings"],
  "map.status": ["审核状态", "Review status"],
  "map.status.pending": ["待审核", "pending"],
  "map.status.confirmed": ["已确认", "confirmed"],
  "map.status.rejected": ["已剔除", "rejected"],
  "map.zoom": ["滚轮缩放，拖动平移；+/- 键缩放，方向键平移", "Wheel to zoom, drag to pan; +/- keys zoom, arrows pan"],
  "map.cluster": ["聚合", "cluster"],
  "map.tiles": ["底图瓦片 URL（可选，离线时留空）", "Tile URL (optional; leave empty offline)"],
  "map.shown": ["显示", "shown"],
  "admin.title": ["用户管理", "Users"],
  "admin.username": ["用户名", "Username"],
  "admin.role": ["角色", "Role"],
  "admin.active": ["启用", "Active"],
  "admin.created": ["创建时间", "Created"],
  "admin.decisions": ["审核数", "Decisions"],
  "admin.hint": ["新增用户：streetwatch users add <用户名> --role <角色>", "Add users with: streetwatch users add <name> --role <role>"],
  "yes": ["是", "yes"],
  "no": ["否", "no"],
};

const EN_CLASS = {
  illegal_ad: "Illegal ad",
  overflowing_bin: "Overflowing bin",
  exposed_garbage: "Exposed garbage",
  street_stall: "Street stall",
  dirty_facade: "Dirty facade",
};
const EN_STATE = {
  filed: "Filed", dispatched: "Dispatched", handling: "Handling", verifying: "Verifying", closed: "Closed",
  rejected: "Rejected",
};

let language = localStorage.getItem("sw.lang") || "zh-CN";
let config = { classes: [], states: {} };

export function setConfig(value) {
  config = value;
}

export const lang = () => language;

export function setLang(value) {
  language = value;
  localStorage.setItem("sw.lang", value);
  document.documentElement.lang = value;
}

export function t(key, vars) {
  const pair = TEXT[key];
  let text = pair ? pair[language === "en" ? 1 : 0] : key;
  for (const [name, value] of Object.entries(vars || {})) text = text.replace(`{${name}}`, value);
  return text;
}

export function className(name) {
  if (language === "en") return EN_CLASS[name] || name;
  return config.classes.find((c) => c.name === name)?.zh || name;
}

export function stateName(state) {
  return language === "en" ? EN_STATE[state] || state : config.states[state] || state;
}

export function classColor(name) {
  return config.classes.find((c) => c.name === name)?.color || "#607d8b";
}

export function formatTime(value) {
  if (value === null || value === undefined) return "—";
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  return date.toLocaleString(language === "en" ? "en-GB" : "zh-CN", {
    timeZone: config.timezone || "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit",
  });
}

export function percent(value) {
  return value === null || value === undefined ? "—" : `${(value * 100).toFixed(1)}%`;
}
