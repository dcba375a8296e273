"""A smoke test of intent in Chinese and Korean, where canyu has no labelled intent data.

    python -m bench.intent_smoke [--backends offline,e5,cascade]

The intent heads learnt from English app reviews only; in zh and ko the multilingual
encoder carries them across, helped by the lexicon's cue words. These 32 posts were
written by hand for this check (8 per intent and language, phone-forum style). They are
a smoke test — does it work at all — not a measure of quality: they are few, and written
by someone who knew the cue words.
"""

from __future__ import annotations

import argparse

POSTS = {
    "zh": [
        ("升级之后相机一打开就闪退，重启也没用", "bug_report"),
        ("最近充电到80%就停了，充不满，是bug吗", "bug_report"),
        ("蓝牙耳机连上几分钟就自动断开了", "bug_report"),
        ("新版本后通知栏下拉会卡住不动", "bug_report"),
        ("希望下个版本能加入通话录音功能", "feature_request"),
        ("建议增加一个关闭负一屏的选项", "feature_request"),
        ("能不能把息屏显示的样式做得更多一点", "feature_request"),
        ("求官方出一个省电模式的定时开关", "feature_request"),
        ("请问怎么把电量百分比显示在图标里？", "question"),
        ("有没有人知道这个型号支持无线充电吗？", "question"),
        ("如何关闭桌面上的广告推荐？", "question"),
        ("小米14和14 Pro哪个续航更好？", "question"),
        ("今天去店里看了新机，颜色挺好看的", "other"),
        ("发布会定在下周三晚上七点", "other"),
        ("用了一个月了，分享一下我的桌面", "other"),
        ("终于抢到了，明天到货", "other"),
    ],
    "ko": [
        ("업데이트 후에 카메라 앱이 계속 튕겨요", "bug_report"),
        ("와이파이가 자꾸 끊기는 오류가 있어요", "bug_report"),
        ("충전 중에 화면이 멈추고 재부팅됩니다", "bug_report"),
        ("알림이 안 와요 버그인가요 설정은 다 켜져 있어요", "bug_report"),
        ("통화 녹음 기능 추가해 주세요", "feature_request"),
        ("다크 모드 일정 예약 기능이 있었으면 좋겠어요", "feature_request"),
        ("배터리 보호 충전 옵션을 넣어 주세요", "feature_request"),
        ("홈 화면 아이콘 크기 조절 기능 지원해 주세요", "feature_request"),
        ("배터리 퍼센트 표시는 어떻게 하나요?", "question"),
        ("이 모델 무선 충전 되나요?", "question"),
        ("듀얼 심 쓰시는 분 있나요?", "question"),
        ("서비스센터 예약은 어디서 하나요?", "question"),
        ("오늘 매장에서 실물 봤는데 색상이 예쁘네요", "other"),
        ("다음 주에 신제품 발표가 있다고 합니다", "other"),
        ("한 달 사용 후기 올립니다", "other"),
        ("드디어 택배 도착했어요", "other"),
    ],
}
HEAD = ("bug_report", "feature_request", "question", "other")


def main(argv: list[str] | None = None) -> None:
    from models import load_classifier

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="offline,e5,cascade")
    args = parser.parse_args(argv)
    print(
        f"{'backend':<28}"
        + "".join(f"{lang:>8}" for lang in POSTS)
        + "   (correct of 16; complaint/praise count as other)"
    )
    for name in args.backends.split(","):
        clf = load_classifier(name)
        cells = []
        for posts in POSTS.values():
            out = clf.classify([t for t, _ in posts])
            predicted = [c.intent.label if c.intent.label in HEAD else "other" for c in out]
            cells.append(sum(p == y for p, (_, y) in zip(predicted, posts, strict=True)))
        print(f"{clf.name:<28}" + "".join(f"{c:>8}" for c in cells))


if __name__ == "__main__":
    main()
