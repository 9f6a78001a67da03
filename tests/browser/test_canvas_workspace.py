"""The flow canvas as a graph workspace in Chromium (issue 17): layout, edges, zoom, pan, fit,
minimap, search, keyboard, export, the list view and the live-path highlight hook."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from apps.accounts.roles import Role
from tests.browser.support import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Screenshots for a person to look at (git-ignored).
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "issue17"

DOMAIN = """
version: "3.1"
intents: [pay]
slots:
  amount:
    type: float
    mappings: [{type: from_llm}]
responses:
  utter_ask_amount:
    - text: How much?
  utter_too_much:
    - text: That is too much.
  utter_done:
    - text: Done!
  utter_hello:
    - text: Hello
"""
FLOWS = """
version: "3.1"
flows:
  pay:
    description: Pay an amount
    steps:
      - call: greet
      - id: ask
        collect: amount
      - noop: true
        next:
          - if: slots.amount > 100
            then:
              - action: utter_too_much
                next: ask
          - else:
              - action: utter_done
                next: END
  greet:
    description: Say hello
    steps:
      - action: utter_hello
"""


@pytest.fixture
def shop(make_assistant, make_user):
    from apps.projects import content

    assistant = make_assistant("shop")
    content.import_files(assistant, {"domain.yml": DOMAIN, "data/flows.yml": FLOWS})
    make_user("fiona", Role.FLOW_BUILDER)
    return assistant


# What has the focus: "+" for an add button, else the node's kind and id.
FOCUSED = """(() => {
  const el = document.activeElement;
  if (el.classList.contains("gadd")) return "+";
  const kind = [...el.classList].find((c) => c.startsWith("kind-"));
  return kind ? kind.slice(5) + ":" + (el.dataset.id.startsWith("flow:") ? el.dataset.id.slice(5) : el.dataset.id) : null;
})()"""


def open_canvas(page):
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto("/a/shop/flows/pay/")
    expect(page.locator(".ws-graph .gnode").first).to_be_visible()


def zoom(page) -> float:
    return float(page.locator("#workspace").get_attribute("data-zoom"))


def scene_transform(page) -> str:
    return page.locator(".ws-scene").get_attribute("transform")


def test_the_graph_draws_every_step_and_its_edges_with_arrowheads(page, shop):
    log_in(page)
    open_canvas(page)
    # Start, the call, collect, logic, two messages, the called flow and End.
    expect(page.locator(".ws-graph .gnode")).to_have_count(8)
    expect(page.locator(".flow-column")).to_be_hidden()
    for kind in ("next", "branch", "loop", "end", "call"):
        edge = page.locator(f".ws-graph .edge.kind-{kind} path").first
        expect(edge).to_have_attribute("marker-end", f"url(#arrow-{kind})")
        assert len(edge.get_attribute("d").split("L")) >= 2, kind
    # The loop back to "ask" is an edge into the collect node.
    loop = page.locator(".ws-graph .edge.kind-loop")
    expect(loop).to_have_attribute("data-to", "ask")
    labels = page.locator(".ws-graph .edge.kind-branch text").all_text_contents()
    assert sorted(labels) == ["Else", "slots.amount > 100"]
    expect(page.locator(".ws-minimap rect[data-id]")).to_have_count(8)
    expect(page.locator(".ws-minimap .ws-minimap-frame")).to_have_count(1)
    page.screenshot(path=SHOTS / "canvas.png")


def test_clicking_a_node_opens_its_panel_and_the_keyboard_does_too(page, shop):
    log_in(page)
    open_canvas(page)
    page.locator(".gnode.kind-collect").click()
    expect(page.locator("#panel form.step-form")).to_be_visible()
    expect(page.locator("#panel select#id_slot")).to_have_value("amount")
    page.keyboard.press("Escape")
    expect(page.locator("#panel form")).to_have_count(0)
    # Escape gives focus back to the node that opened the panel.
    assert page.evaluate("document.activeElement.getAttribute('data-id')") == "ask"

    # Tab goes from node to node (and the "+" on the edges between them), top to bottom.
    page.locator(".gnode.kind-start").focus()
    seen = []
    for _ in range(12):
        page.keyboard.press("Tab")
        seen.append(page.evaluate(FOCUSED))
    assert seen.index("collect:ask") < seen.index(
        next(s for s in seen if s and s.startswith("logic:"))
    )
    # The "+" after Start, then the call step and the "+" between it and the collect.
    assert seen[:3] == ["+", "call:pay_0_call_greet", "+"]

    # From the collect node, the arrow down reaches the logic step; Enter opens it.
    page.locator(".gnode.kind-collect").focus()
    page.keyboard.press("ArrowDown")
    focused = page.evaluate("document.activeElement.getAttribute('data-id')")
    assert focused != "ask"
    assert page.evaluate("document.activeElement.classList.contains('kind-logic')")
    page.keyboard.press("Enter")
    expect(page.locator("#panel form.step-form")).to_be_visible()
    expect(page.locator("#panel")).to_contain_text("Branches")


def test_zoom_pan_and_fit(page, shop):
    log_in(page)
    open_canvas(page)
    before = zoom(page)
    page.get_by_role("button", name="Zoom in").click()
    assert zoom(page) == pytest.approx(before * 1.25, rel=0.01)
    page.get_by_role("button", name="Zoom out").click()
    page.get_by_role("button", name="Zoom out").click()
    assert zoom(page) == pytest.approx(before * 0.8, rel=0.01)

    box = page.locator(".ws-viewport").bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + box["height"] - 20)
    page.mouse.wheel(0, -400)
    page.wait_for_function(
        f"Number(document.getElementById('workspace').dataset.zoom) > {before * 0.8 + 0.01}"
    )

    # Dragging the background pans by the distance dragged.
    start = scene_transform(page)
    page.mouse.move(box["x"] + 10, box["y"] + 10)
    page.mouse.down()
    page.mouse.move(box["x"] + 110, box["y"] + 60, steps=5)
    page.mouse.up()
    assert scene_transform(page) != start
    # Arrow keys pan when the viewport has focus.
    page.locator(".ws-viewport").focus()
    moved = scene_transform(page)
    page.keyboard.press("ArrowLeft")
    assert scene_transform(page) != moved

    # After a reload (as after an edit) the view is where it was.
    kept = scene_transform(page)
    page.reload()
    expect(page.locator(".ws-scene")).to_have_attribute("transform", kept)

    page.get_by_role("button", name="Fit the flow to the screen").click()
    graph = page.locator(".ws-scene").bounding_box()
    view = page.locator(".ws-viewport").bounding_box()
    assert graph["x"] >= view["x"] - 1 and graph["y"] >= view["y"] - 1
    assert graph["x"] + graph["width"] <= view["x"] + view["width"] + 1
    assert graph["y"] + graph["height"] <= view["y"] + view["height"] + 1


def test_search_highlights_and_centres_a_matching_node(page, shop):
    log_in(page)
    open_canvas(page)
    page.get_by_role("searchbox", name="Search steps in this flow").fill("too_much")
    node = page.locator(".gnode.match")
    expect(node).to_have_count(1)
    expect(page.locator(".ws-search-status")).to_have_text("1 of 1")
    box = node.bounding_box()
    view = page.locator(".ws-viewport").bounding_box()
    centre_x = box["x"] + box["width"] / 2
    centre_y = box["y"] + box["height"] / 2
    assert abs(centre_x - (view["x"] + view["width"] / 2)) < 5
    assert abs(centre_y - (view["y"] + view["height"] / 2)) < 5


def test_export_downloads_svg_and_png(page, shop):
    log_in(page)
    open_canvas(page)
    with page.expect_download() as info:
        page.get_by_role("button", name="Export the flow as SVG").click()
    svg_path = info.value.path()
    assert info.value.suggested_filename == "pay.svg"
    text = Path(svg_path).read_text(encoding="utf-8")
    assert text.startswith("<?xml") and "<svg" in text and "utter_too_much" in text
    assert 'gadd"' not in text and "tabindex" not in text  # no editing controls in it

    with page.expect_download() as info:
        page.get_by_role("button", name="Export the flow as PNG").click()
    png = Path(info.value.path()).read_bytes()
    assert info.value.suggested_filename == "pay.png"
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / "canvas-export.png").write_bytes(png)


def test_add_buttons_on_edges_open_the_add_panel_for_builders_only(page, shop, make_user):
    log_in(page)
    open_canvas(page)
    adds = page.locator(".ws-graph .gadd")
    assert adds.count() >= 4
    adds.first.click()
    expect(page.locator("#panel .kind-picker")).to_be_visible()

    make_user("vera", Role.BUSINESS_USER)
    page.context.clear_cookies()
    log_in(page, "vera")
    open_canvas(page)
    expect(page.locator(".ws-graph .gadd")).to_have_count(0)
    page.locator(".gnode.kind-collect").click()
    expect(page.locator("#panel")).to_contain_text("amount")
    expect(page.locator("#panel button[type=submit]")).to_have_count(0)


def test_list_view_and_the_highlight_hook(page, shop):
    log_in(page)
    open_canvas(page)
    page.evaluate("StudioCanvas.highlight(['ask'])")
    expect(page.locator(".gnode.ran")).to_have_count(1)
    expect(page.locator(".gnode.ran")).to_have_attribute("data-id", "ask")
    page.evaluate("StudioCanvas.highlight([])")
    expect(page.locator(".gnode.ran")).to_have_count(0)

    page.get_by_role("button", name="List").click()
    expect(page.locator(".flow-column .node.kind-collect")).to_be_visible()
    expect(page.locator(".ws-viewport")).to_be_hidden()
    page.reload()  # the choice is remembered
    expect(page.locator(".flow-column .node.kind-collect")).to_be_visible()
    page.get_by_role("button", name="Graph").click()
    expect(page.locator(".ws-graph .gnode").first).to_be_visible()


def test_a_sixty_step_flow_is_laid_out_and_fits(page, make_user):
    from bench import canvas as bench_canvas

    builder = make_user("fiona", Role.FLOW_BUILDER)
    bench_canvas.make_assistant(builder)
    log_in(page)
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(f"/a/{bench_canvas.ASSISTANT}/flows/big/")
    steps = page.locator(".ws-graph .gnode:not(.kind-start):not(.kind-end):not(.kind-flow)")
    expect(steps).to_have_count(bench_canvas.STEPS)
    expect(page.locator(".ws-graph .edge.kind-loop")).to_have_count(10)
    # Fitted: the whole graph is inside the viewport, at a zoom that still shows it.
    graph = page.locator(".ws-scene").bounding_box()
    view = page.locator(".ws-viewport").bounding_box()
    assert graph["y"] + graph["height"] <= view["y"] + view["height"] + 1
    assert zoom(page) >= 0.05
    page.get_by_role("searchbox", name="Search steps in this flow").fill("block_7")
    expect(page.locator(".gnode.match")).to_have_count(1)
    page.screenshot(path=SHOTS / "canvas-60-steps.png")
