"""Chat templates: built-ins against seed 003's ChatML transcript, pasted Jinja templates, inference."""

from __future__ import annotations

import pytest

from domestic_llm.errors import ConfigurationError
from domestic_llm.templates import BUILTIN, JinjaTemplate, infer_template_name, resolve_template
from domestic_llm.types import Message

from .helpers import FIXTURES

CONVERSATION = [
    Message("system", "你是一个有用的助手."),
    Message("user", "你好，我叫李聪明。请问你是谁？"),
    Message("assistant", "你好，李聪明！很高兴认识你。"),
    Message("user", "请问我叫什么名字？"),
]

# chat_template strings as model cards publish them
HF_CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + "
    "'\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
QWEN15_CHAT = (  # Qwen1.5-14B-Chat tokenizer_config.json
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\n"
    "You are a helpful assistant<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>"
    "assistant\\n' }}{% endif %}"
)
LLAMA3_INSTRUCT = (  # Meta-Llama-3-8B-Instruct tokenizer_config.json
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
    "message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)
BAICHUAN2 = (  # vLLM's examples/template_baichuan.jinja
    "{{ (messages|selectattr('role', 'equalto', 'system')|list|last).content|trim if "
    "(messages|selectattr('role', 'equalto', 'system')|list) else '' }}\n\n"
    "{%- for message in messages -%}\n"
    "    {%- if message['role'] == 'user' -%}\n"
    "        {{- '<reserved_106>' + message['content'] -}}\n"
    "    {%- elif message['role'] == 'assistant' -%}\n"
    "        {{- '<reserved_107>' + message['content'] -}}\n"
    "    {%- endif -%}\n"
    "{%- endfor -%}\n\n"
    "{%- if add_generation_prompt and messages[-1]['role'] != 'assistant' -%}\n"
    "    {{- '<reserved_107>' -}}\n"
    "{% endif %}"
)


def _transcript_messages() -> list[Message]:
    # the turns of seed 003's transcript (its long answer contains literal "\n" escapes, kept as is)
    text = (FIXTURES / "seed003_chatml_transcript.txt").read_text(encoding="utf-8")
    messages = []
    for block in text.split("<|im_start|>")[1:]:
        role, _, rest = block.partition("\n")
        messages.append(Message(role, rest.split("<|im_end|>")[0]))  # type: ignore[arg-type]
    return messages


def test_chatml_renders_the_seed_transcript_exactly():
    transcript = (FIXTURES / "seed003_chatml_transcript.txt").read_text(encoding="utf-8")
    messages = _transcript_messages()
    assert [m.role for m in messages] == ["user", "assistant", "user", "assistant", "user"]
    assert BUILTIN["chatml"].render(messages) == transcript + "<|im_start|>assistant\n"


def test_baichuan2_renders_the_seed_prompt():
    # seed 003 wrote this Baichuan 2 prompt by hand into a message
    assert BUILTIN["baichuan2"].render([Message("user", "光的三原色是什么")]) == "<reserved_106>光的三原色是什么<reserved_107>"


@pytest.mark.parametrize(("source", "builtin"), [(HF_CHATML, "chatml"), (QWEN15_CHAT, "chatml"),
                                                 (LLAMA3_INSTRUCT, "llama3"), (BAICHUAN2, "baichuan2")])
def test_pasted_jinja_template_renders_like_the_builtin(source, builtin):
    jinja = resolve_template(source, "any-model")
    assert isinstance(jinja, JinjaTemplate)
    rendered = jinja.render(CONVERSATION)
    assert rendered == BUILTIN[builtin].render(CONVERSATION)
    assert set(jinja.markers) <= set(BUILTIN[builtin].markers)  # markers read from the template itself


def test_builtin_renderings_written_out():
    assert BUILTIN["chatml"].render(CONVERSATION) == (
        "<|im_start|>system\n你是一个有用的助手.<|im_end|>\n<|im_start|>user\n你好，我叫李聪明。请问你是谁？<|im_end|>\n"
        "<|im_start|>assistant\n你好，李聪明！很高兴认识你。<|im_end|>\n<|im_start|>user\n请问我叫什么名字？<|im_end|>\n"
        "<|im_start|>assistant\n")
    assert BUILTIN["deepseek_r1"].render(
        [Message("user", "1+1?"), Message("assistant", "<think>算一下</think>2"), Message("user", "2+2?")]
    ) == "<｜User｜>1+1?<｜Assistant｜>2<｜end▁of▁sentence｜><｜User｜>2+2?<｜Assistant｜><think>\n"
    assert BUILTIN["deepseek_r1"].opens_think


@pytest.mark.parametrize(("model", "name"), [
    ("qwen1.5-14b", "chatml"), ("Qwen2.5-72B-Instruct", "chatml"), ("qwen-72b", "chatml"),
    ("baichuan2-7b", "baichuan2"), ("DeepSeek-R1-Distill-Qwen-32B", "deepseek_r1"), ("deepseek-r1", "deepseek_r1"),
    ("Meta-Llama-3-8B-Instruct", "llama3"), ("llama3.1-70b", "llama3"), ("glm-4-9b-chat", None),
])
def test_inference_from_model_name(model, name):
    assert infer_template_name(model) == name


def test_clear_errors():
    with pytest.raises(ConfigurationError, match=r"cannot infer the chat template of model='glm-4-9b-chat'.*chatml"):
        resolve_template(None, "glm-4-9b-chat")
    with pytest.raises(ConfigurationError, match=r"chat_template='vicuna' is not known.*tokenizer_config"):
        resolve_template("vicuna", "x")
    with pytest.raises(ConfigurationError, match="not a valid Jinja template"):
        resolve_template("{% for m in messages %}", "x")
    refusing = "{{ raise_exception('Conversation roles must alternate') }}"
    with pytest.raises(ConfigurationError, match="roles must alternate"):
        resolve_template(refusing, "x").render(CONVERSATION)
    with pytest.raises(ConfigurationError, match="text only"):
        BUILTIN["chatml"].render([Message("user", [{"type": "image_url", "image_url": {"url": "x"}}])])


def test_jinja_runs_sandboxed():
    escape = "{{ ''.__class__.__mro__[1].__subclasses__() }}"
    with pytest.raises(ConfigurationError, match="failed to render"):
        resolve_template(escape, "x").render(CONVERSATION)
