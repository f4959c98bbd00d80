# Pattern tables read best one pattern per line, even when a pattern is long.
# ruff: noqa: E501
"""The dialogue-act layer: what each sentence of a session *does*, and who said it.

Pure Python (no Django, no model). A recap a person can rely on starts here: a next step is a
suggestion the client took up or a commitment the client made, never a question, a negation or a
description of the problem; a Moment is the client's own realisation or change talk, or the
therapist's reflection, and says which.

The labels follow motivational interviewing's coding of therapy talk (MITI 4.2.1 for the therapist,
MISC 2.5's change/sustain talk for the client), because that is also how the dev set is annotated
(AnnoMI, Wu et al. 2022), so the layer can be measured (bench/recap_quality.py --acts):
- therapist: question_open, question_closed, reflection_simple, reflection_complex, advice, options,
  negotiation (asking for agreement on a plan), information, affirm, deferral;
- client: change (towards change: desire, ability, reasons, need, steps taken, problem recognition),
  sustain (against change), commitment, realisation, feeling, question, agree, decline, deferral.
Modifiers on every sentence: negated, hypothetical.

The rules are deliberately about the *shape* of talk (who is the subject, which modal, which verb,
what came just before) rather than about any one topic, so they carry to sessions about anything.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field


def _rx(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


def norm(text: str) -> str:
    return " ".join(text.replace("’", "'").replace("‘", "'").replace("`", "'").split())


@dataclass(slots=True)
class Sentence:
    speaker: str  # client | therapist | unknown
    text: str
    acts: set[str] = field(default_factory=set)
    negated: bool = False
    hypothetical: bool = False


# --- shared pieces ----------------------------------------------------------------------------------

_WH_OPEN = _rx(
    r"^(?:(?:and|so|okay|ok|well|now|but|right),?\s+)*(?:what|how|why|where|which|who|in what way|to what extent)\b(?! (?:a|an)\b)",
    r"^(?:(?:and|so|okay|ok|well|now|but|right),?\s+)*(?:tell me|talk to me|describe|say more|can you (?:tell|say|describe|talk)|could you (?:tell|say|describe|talk)|help me understand)\b",
    r"\b(?:what|how) (?:do|did|would|could|does|is|are|was|were|will|can|might) (?:you|that|it|this|things|your)\b",
    r"\btell me (?:more|about|what|how|a (?:bit|little))\b",
)
_AUX_CLOSED = re.compile(
    r"^(?:(?:and|so|okay|ok|well|now|but|right),?\s+)*(?:do|does|did|is|are|was|were|have|has|had|can|could|would|will|should|shall|may|might|am|isn't|aren't|don't|doesn't|didn't|haven't|wouldn't|won't|can't|couldn't)\s+(?:you|i|we|it|that|this|there|they|he|she|your|any|anything|anyone|someone|things)\b",
    re.IGNORECASE,
)

_NEGATION = re.compile(
    r"\b(?:not|never|no longer|don't|doesn't|didn't|won't|wouldn't|can't|cannot|couldn't|isn't|aren't|wasn't|weren't|haven't|hasn't|hadn't|shouldn't|ain't|dont|cant|wont)\b",
    re.IGNORECASE,
)
_HYPOTHETICAL = _rx(
    r"^(?:(?:and|but|so|well),?\s+)?(?:if|suppose|supposing|imagine|say|what if)\b",
    r"\bif i (?:were|was|could|did|had|stopped|quit|tried|didn't|don't|do|go|went)\b",
    r"\b(?:would|could) (?:probably |maybe |possibly )?(?:be|have|feel|get|help|mean)\b.*\bif\b",
    r"\bi(?:'d| would) (?:probably |maybe )?(?:be|have|feel|get|save|lose)\b",
)

_FEELING_WORDS = (
    r"sad|down|low|depressed|miserable|angry|mad|furious|irritable|annoyed|frustrated|anxious|nervous|worried|scared|afraid|"
    r"terrified|panicky|stressed|overwhelmed|tired|exhausted|drained|lonely|alone|isolated|guilty|ashamed|embarrassed|"
    r"hopeless|helpless|worthless|stupid|useless|numb|empty|lost|stuck|trapped|hurt|upset|confused|torn|jealous|"
    r"happy|proud|relieved|hopeful|calm|calmer|lighter|clearer|better|excited|grateful|motivated|confident|a burden|"
    r"like a failure|like a burden|like an idiot|on edge|fed up|sick of it|burnt out|burned out"
)
_FEELING = _rx(
    rf"\bi(?:'m| am| was| feel| felt| get| got| have been| 've been| keep feeling| just feel| really feel)\s+(?:so |really |very |quite |a bit |a little |kind of |kinda |sort of |just |pretty |too |more |less |always |often |sometimes |constantly |totally |completely )*(?:{_FEELING_WORDS})\b",
    rf"\bmakes? me (?:feel )?(?:so |really |very |a bit |kind of )?(?:{_FEELING_WORDS})\b",
    rf"\bi(?:'ve| have) been (?:so |really |very |feeling )*(?:{_FEELING_WORDS})\b",
)

# --- therapist ---------------------------------------------------------------------------------------

_REFLECT_LEAD = _rx(
    r"\b(?:it )?sounds (?:to me )?(?:like|as if|as though)\b",
    r"\bit (?:seems|looks|feels) (?:to me )?(?:like|as if|as though|that)\b",
    r"\bwhat i(?:'m| am) hearing\b",
    r"\bi(?:'m| am)? hear(?:ing)? (?:you|that you)\b",
    r"\bi heard you say\b",
    r"\b(?:so )?what you(?:'re| are) saying\b",
    r"\byou(?:'re| are) (?:saying|telling me)\b",
    r"\bpart of you\b",
    r"\bon (?:the )?one hand\b",
    r"\bon the other hand\b",
    r"\bi (?:get|have) the (?:sense|feeling|impression)\b",
    r"\bi (?:can )?(?:see|imagine|sense) (?:that |how |why )?(?:you|this|that|it)\b",
    r"\byou(?:'re| are) (?:not sure|wondering|worried|concerned|afraid|scared|feeling|finding|noticing|realising|realizing|torn|ready|tired|stuck|frustrated|struggling|trying|hoping|thinking|looking)\b",
    r"^(?:(?:so|and|okay|ok|yeah|well|right|mm-hmm),?\s+)*you(?:'ve| have)? (?:feel|felt|want|wanted|need|don't want|do not want|would like|'d like|really|value|care|know|noticed|realised|realized|decided|tried|been|think|thought|believe|see|wish|hope|like|enjoy|worry|find|found|said|mentioned|had|have|got|can|could|also|still|just|already)\b",
    r"^(?:(?:so|and|okay|ok|yeah|well|right),?\s+)*you(?:'re| are| were|'ll|'d)\b",
    r"^(?:(?:so|and|okay|ok|yeah|well|right),?\s+)*(?:your|it's|that's|this is|there's|this|that|it) .{0,60}\byou\b",
    r"\b(?:important|matters|means a lot|meaningful) to you\b",
    r"\byour (?:health|family|kids|children|job|work|life|mom|mum|dad|wife|husband|partner|goal|goals|values)\b",
)
_REFLECT_COMPLEX = _rx(
    r"\b(?:it )?sounds (?:to me )?(?:like|as if|as though)\b",
    r"\bit (?:seems|feels) (?:to me )?(?:like|as if|as though)\b",
    r"\bpart of you\b",
    r"\bon (?:the )?one hand\b|\bon the other hand\b|\bat the same time\b",
    r"\b(?:even though|although|and yet|but also|but at the same time)\b",
    r"\b(?:almost|kind of|sort of) (?:like|as if)\b",
    r"\b(?:important|matters|means a lot|meaningful) to you\b",
    r"\byou(?:'re| are) (?:not sure|wondering|worried|concerned|afraid|scared|torn|ready|tired|stuck|frustrated|struggling|hoping)\b",
    r"\byou (?:really )?(?:value|care about|want to be|don't want to be|wish|hope)\b",
    r"\b(?:because|so that|which means|that's why|the reason)\b",
    rf"\byou(?:'re| are| feel| felt| were| seem)\s+(?:so |really |very |a bit |kind of |pretty )*(?:{_FEELING_WORDS})\b",
)
_AFFIRM = _rx(
    r"^(?:(?:oh|well|okay|ok|yeah|wow),?\s+)*(?:that's|that is|it's|what a) (?:great|wonderful|fantastic|excellent|amazing|brilliant|awesome|really good|so good|good|a great|a big|a huge|huge|impressive)\b",
    r"^(?:(?:oh|well|okay|ok|yeah),?\s+)*(?:great|good|excellent|wonderful|fantastic|perfect|awesome|good for you|well done|nice)[.!]?$",
    r"\bi (?:really )?(?:commend|appreciate|admire|applaud) (?:you|your|that)\b",
    r"\bthank(?:s| you) (?:for|so much)\b",
    r"\bgood (?:for you|job|work)\b|\bwell done\b",
    r"\bthat (?:took|takes) (?:a lot of )?courage\b",
)
_ADVICE = _rx(
    r"\b(?:could|can|would) you (?:maybe |perhaps |also |just )?(?:try|use|do|put|start|keep|write|give|bring|set|book|ask|practi[cs]e|switch|swap|get|call|take|make|leave|go|plan|schedule|find|say|tell|talk|share|show|let)\b",
    r"\byou (?:really |just |probably |definitely )?(?:need|have|'ve got|got|gotta|ought) to (?!(?:be|feel|think|say|know|understand|see|realise|realize)\b)",
    r"\byou should (?:really |probably |definitely |maybe )?(?!(?:be|feel|know|have seen)\b)\w+",
    r"\bmake sure (?:that )?you\b",
    r"\b(?:if|when|whenever) you [^,]{3,50}, (?:go|try|call|take|write|put|keep|use|do|make|read|join|talk|ask|breathe|get)\b",
    r"\bi(?:'d| would)? (?:really |strongly |also |just )?(?:suggest|recommend|encourage|advise|urge|invite) (?:that )?you\b",
    r"\bi(?:'d| would) (?:really |strongly |also |just )?(?:suggest|recommend|encourage|advise|urge|invite)\b",
    r"\bmy (?:recommendation|advice|suggestion)\b",
    r"\bi (?:really |also )?(?:want|need) you to\b",
    r"\bi(?:'d| would) (?:really |also |just )?like (?:for )?you to\b",
    r"\byou (?:could|might|should|may|can) (?:also |maybe |perhaps |always |even )?(?:try|want to|consider|think about|start|stop|use|keep|write|put|set|take|make|call|ask|talk|go|book|plan|practi[cs]e|cut|switch|swap|limit|avoid|remove|replace|get|give|bring|pick|download|join|look into|reach out)\b",
    r"\bit (?:might|may|could|would|will|can) (?:be (?:helpful|useful|a good idea|worth|good)|help)\b",
    r"\bit(?:'s| is) (?:a good idea|worth|helpful|important|best|better) (?:to|if|that)\b",
    r"\bit (?:often )?helps (?:if|to|when)\b",
    r"\b(?:try|remember) to\b",
    r"\bhave you (?:thought about|considered|tried) (?:\w+ing)\b",
    r"\bwhat if you (?:tried|try|were to|started|stopped|took|made|wrote|set|kept|used|put|called|asked)\b",
    r"\bi(?:'d| would) (?:love|like) (?:for )?you to\b",
    r"\bhomework\b",
    r"^(?:(?:so|and|well|okay|ok),?\s+)*i think (?:you )?(?:just|maybe) (?:tell|ask|say|try|go|call|write|talk|let|keep|take|make|put)\b",
    r"^(?:(?:so|and|now|then|okay|ok),?\s+)*(?:try|write|put|keep|set|take|use|make|call|book|pick|practi[cs]e|start|notice|plan|aim|go for|give it|leave|switch|swap|limit|avoid|schedule|bring)\b(?!.*\?$)",
    r"\bbefore (?:our |the |your )?next (?:session|time|visit|appointment|week)\b",
    r"\bbetween now and (?:then|next)\b",
)
_OPTIONS = _rx(
    r"\b(?:some|other|many|lots of|a lot of) (?:people|folks|patients|clients) (?:find|found|try|tried|have found|say|like|use|choose|prefer)\b",
    r"\bthere (?:are|is) (?:a (?:few|couple of|number of|lot of)|several|some|different|many|other|lots of) (?:ways|options|things|approaches|strategies|choices|treatments|programs|programmes|groups|medications)\b",
    r"\b(?:one|another|other|the) (?:good |other |possible |useful |helpful |simple )?(?:option|options|choice|choices|alternative|possibility|approach|idea) (?:is|are|would be|could be|might be)\b",
    r"\byou (?:could|can|might) (?:either|also)\b.*\bor\b",
    r"\bwhether (?:that's|it's|you)\b.*\bor\b",
    r"\b(?:we|you) (?:have|'ve got) (?:a few|several|some|different) (?:options|choices)\b",
    # "So that might mean giving up an hour's sleep, getting up an hour earlier": one way to do it.
    r"\b(?:that|this|it) (?:might|could|would|may|can) mean (?:like |maybe |perhaps |just )?\w+ing\b",
)
_NEGOTIATION = _rx(
    r"\bwould you be (?:willing|open|interested|able|ready|up for)\b",
    r"\bare you (?:willing|open|interested|ready|up for)\b",
    r"\bhow (?:about|would you feel about) (?:we|you|if|trying|setting|making|starting|cutting)\b",
    r"\b(?:what (?:would|do) you think|how (?:would|do) you feel) (?:about|of) (?:if |we |you )?\w+ing\b",
    r"\bshall we\b|\bcould we (?:agree|say|set|try|make|plan)\b|\bcan we (?:agree|say|set|try|make|plan)\b",
    r"\blet(?:'s| us) (?:say|set|agree|plan|make|try|aim|start|pick|write|put|come up with|think about|work on|look at)\b",
    r"\bwhat (?:would|could|will|do) you (?:like to|want to|be willing to|think you (?:could|can|might|would)|put down|see yourself|try|do)\b",
    r"\bwhat (?:would|might|will) (?:that|this|it|the first step|a first step|a plan|your plan|your goal|success) (?:look like|be)\b",
    r"\bwhat(?:'s| is| would be) (?:your|a|the|one) (?:goal|plan|first step|next step|target)\b",
    r"\bwhat (?:are|were) you (?:willing|planning|thinking of doing|going to do)\b",
    r"\bhow (?:will|would|could|might|are) you (?:go about|do (?:that|it|this)|start|make (?:that|it|this) happen|plan)\b",
    r"\bwhat(?:'s| is) one (?:thing|step|small)\b",
    r"\bdoes (?:that|this) sound (?:okay|ok|good|like a plan|reasonable|doable|fair|alright|all right)\b",
    r"\bis (?:that|this) (?:something|a plan|doable|reasonable|okay|ok|realistic)\b",
    r"\bcan you (?:commit|agree)\b",
    # Planning questions: they ask the client to make the plan ("How could you respond instead?").
    r"\bhow (?:could|would|will|can|might) you (?:respond|handle|deal|manage|cope|avoid|stop|change|cut|get|make|start|plan|remember|keep|fit|find|say|do)\b",
    r"\bwhat (?:could|would|will|can|might) you (?:do|try|use|change|say|put|need|plan|start|stop|cut)\b",
    r"\bwhat (?:do|would) you (?:think|need) (?:you )?(?:could|would|might|need to|to)?\s*(?:do|work|help|try|change)\b",
    r"\bwhen (?:would|will|could|can|do) you (?:want to |like to )?(?:start|begin|do|try|quit|stop)\b|\bwhen would be a\b",
    r"\bwho (?:could|would|can|might) (?:help|support|be there)\b",
    r"\bwhat (?:specific )?(?:steps|things|changes)\b.*\byou\b.*\b(?:take|do|make|try)\b",
    r"\bwhat time (?:would|will|could|do) you\b",
    r"\bwhat (?:is it )?(?:that )?you(?:'d| would) (?:like|want) to (?:work on|do|change|try|focus on|aim for)\b",
    r"\bwhat (?:\w+ )?you (?:could|can|might) (?:do|try)\b.*\?$",
    r"\bwhat (?:could|would|might|will) be (?:a|the|your|one) (?:good |first |next |small |realistic )*(?:step|goal|plan)\b",
    r"\bwhat (?:sort|kind|type) of (?:a )?(?:goal|plan|steps?|changes?)\b",
    r"\b(?:as far as|in terms of|about) next steps\b|\bwhat (?:would|might|could) (?:be )?help(?:ful)?\b.*\b(?:next steps?|going forward|from here)\b",
    r"\bwhen would (?:it|that) be (?:good|best|a good time|helpful) (?:for you )?to\b",
    r"\bwhere (?:do|would) you (?:want|like) to go from here\b",
    r"\bwhat would it take (?:for you )?to\b",
    r"\bi(?:'m| am) wondering if (?:we|you) (?:can|could|might) (?:kind of |maybe |perhaps |just )?(?:continue|meet|come back|talk|try|set|make|plan|look)\b",
    r"\b(?:can|could) you think of (?:anything|something|any|some|other|ways|things)\b|\bwhat else (?:could|can|would|might) you\b",
    # Summing up the plan: "So you're willing to go to bed at 11:00".
    r"^(?:(?:okay|ok|so|and|great|alright),?\s+)*you(?:'re| are) (?:willing|going|planning|committed|ready) to\b",
)
_INFORMATION = _rx(
    r"\b(?:research|studies|evidence|science|data|statistics|guidelines|the guidelines|doctors|experts) (?:show|shows|suggest|suggests|say|says|tell us|recommend|indicate)\b",
    r"\bwe (?:know|have found|see) (?:that|from)\b",
    r"\b(?:the )?(?:recommended|low-risk|safe|normal|healthy|average) (?:amount|level|limit|range|dose|number)\b",
    r"\b\d+\s*(?:units?|drinks?|mg|milligrams?|percent|%|grams?|calories|minutes a day|hours a night|ounces?)\b",
    r"\b(?:it's|it is|that's|that is) called\b|\bwhat happens is\b|\bthe way it works\b",
    r"\b(?:increases?|reduces?|raises?|lowers?|doubles?) (?:the|your) (?:risk|chance|chances|likelihood)\b",
    r"\b(?:a lot of|many|most) people (?:who|with|don't|do|think|believe|experience)\b",
    r"\bit(?:'s| is) (?:normal|common|very common|not unusual) (?:to|for)\b",
    r"\b(?:side effects?|withdrawal|dependence|tolerance)\b",
)
DEFERRAL = _rx(
    r"\bnext (?:time|week|session|appointment|visit|month|meeting)\b(?<!see you next time)(?<!see you next week)",
    r"\b(?:at|on|in|during) (?:our|the|your) next (?:session|appointment|visit|meeting)\b",
    r"\b(?:come|get|circle|go) back to (?:that|this|it|them)\b",
    r"\b(?:pick|follow) (?:that|this|it) up\b|\bpick up (?:on|with) (?:that|this|it)\b|\bfollow up (?:on|with)\b",
    r"\bput a pin in\b|\bpark (?:that|this|it)\b|\bhold (?:that|this) thought\b",
    r"\b(?:another|a later|a future) (?:time|session|day)\b",
    r"\b(?:talk|think|look) (?:about|at|into) (?:that|this|it) (?:more )?(?:later|another time|next time|some more)\b",
    r"\btouch base\b|\bcheck in (?:on|about|with)\b|\bsee how (?:it|that|this|things) (?:goes|went|is going)\b",
    r"\bi(?:'d| would) like to (?:think|sleep) (?:about|on) (?:it|that|this)\b|\bi(?:'ll| will| need to| want to) think about (?:it|that|this)\b",
)

# --- client ------------------------------------------------------------------------------------------

_I = r"(?:i|we)"
_CHANGE_VERBS = (
    r"stop|quit|cut (?:down|back)|cut|reduce|drink less|smoke less|use less|change|give up|get help|get better|get healthy|get clean|get sober|get fit|"
    r"lose|eat (?:better|healthier|less|more)|exercise|walk|run|move more|start|try|work on|do something|do better|do it|deal with|tackle|manage|control|"
    r"cope|take (?:my|the|it)|keep taking|go back|see (?:a|the|my)|call|talk to|tell|ask|sleep|rest|save|spend less|pay|apply|look for|find|get (?:a|my|back|out|into)|"
    r"be (?:a better|healthier|there|around|more|less|sober|clean|able|free)|feel better|feel (?:healthier|good)|make (?:a|some|the) (?:change|changes|effort)|set|limit|avoid|switch|swap|join|book|go to|attend|come back|"
    r"practi[cs]e|practi[cs]ing|telling|saying no|say no|check|checking|write|writing|plan|planning|exercising|walking|stopping|quitting|cutting"
)
_COMMITMENT = _rx(
    r"\bi(?:'ll| will| shall)\s+(?:definitely |really |probably |try (?:and|to) |have to |just |also |certainly |totally |absolutely )*(?!be (?:fine|okay|ok|honest|like|bummed|sad|upset|mad|angry)\b|(?:tell you|say|admit|be honest)\b)\w+",
    r"\bi(?:'m| am)\s+(?:definitely |really |probably |just |also |still )*(?:going to|gonna|planning to|planning on|committed to|determined to|ready to|willing to|about to|starting to)\b(?! be\b(?! (?:able|there|on time|more|less|sober|clean|careful|better|home)\b))",
    r"\bi (?:plan|intend|promise|commit|agree|aim|decided|have decided|'ve decided) to\b",
    r"\b(?:i|we) (?:can|could) (?:do|try) (?:that|this|it)\b",
    r"\bi(?:'ll| will) (?:give it a (?:go|try|shot)|try (?:it|that|this))\b",
    r"\b(?:that's|that is|it's) (?:my|the) (?:plan|goal)\b|\bmy (?:plan|goal) is\b",
    r"\blet's (?:do it|do that|try it|try that)\b",
    r"^(?:okay,? |ok,? |yeah,? )?(?:i'm|i am) (?:in|up for it|on board)[.!]?$",
    r"\bsounds like a plan\b|^deal[.!]?$",
)
_DESIRE = _rx(
    r"\bi(?:'d| would)? (?:really |just |also |do |definitely |still |kind of |kinda )*(?:want|wanna|wish|hope|need|have to|'ve got to|got to|gotta|must|should|ought to)\b(?! (?:you|him|her|them) to)(?! (?:say|admit|laugh|tell you|be honest)\b)",
    r"\bi(?:'d| would) (?:really )?(?:like|love) to\b",
    r"\bi(?:'d| would) (?:really )?(?:like|love) \w+ing\b",
)
# "I wouldn't mind coming back in a week" wants it: a "not" that is not a negation.
_NOT_MIND = re.compile(r"\b(?:wouldn't|would not|don't|do not) mind\b", re.IGNORECASE)
# Not wanting the problem behaviour any more is change talk, though it has a "don't" in it.
_NOT_ANYMORE = _rx(
    r"\b(?:don't|do not|never) (?:really )?want to (?:drink|smoke|use|gamble|vape|drive|go back|end up|be like|hurt|feel like this|keep)\b",
    r"\b(?:not|never|no longer) (?:going to|gonna) (?:drink|smoke|use|gamble|vape|touch)\b",
    r"\b(?:drink|smoke|use|gamble|vape)(?:ing)? (?:anymore|again)\b.*\b(?:don't|won't|not)\b|\b(?:don't|won't|not) (?:\w+ )?(?:drink|smoke|use|gamble|vape) (?:anymore|again)\b",
)
_ABILITY = _rx(
    rf"\b{_I} (?:(?:suppose|guess|think|know|believe|feel) (?:that )?i )?(?:can|could|might be able to|'m able to|am able to)\b(?! (?:not|never|see|hear|tell|say|remember|imagine|understand|feel|think)\b)",
    r"\b(?:confident|sure) (?:that )?i (?:can|could)\b",
)
_STEPS = _rx(
    r"\bi did (?:the|what|my|it|that|some|a)\b(?! (?:bad|wrong|stupid|nothing)\b)",
    r"\b(?:i'm|i am|i've|i have) (?:already |now )?(?:got )?(?:down|cut down|cut back) (?:to )?(?:\d+|one|two|three|four|five|six|a few|a couple)\b",
    rf"\b{_I}(?:'ve| have)? (?:already |just |recently |actually )*(?:started|stopped|quit|cut (?:down|back)|reduced|tried|been trying|been cutting|switched|joined|booked|bought|signed up|made an appointment|talked to|told|thrown|given up|managed|gone (?:without|a))\b",
    r"\bi(?:'ve| have) been (?:going|walking|running|exercising|eating|taking|sleeping|sober|clean|cutting)\b",
)
_PROBLEM_RECOGNITION = _rx(
    r"\b(?:it's|it is|that's|that is|they're|it) (?:\w+ )?making me (?:fatter|sick|ill|worse|tired|sad|anxious|depressed|feel worse|gain|put on)\b",
    r"\bi (?:don't|do not|really don't) like (?:it )?(?:when|whenever|how|that|the way|being|waking|feeling)\b",
    r"\bi (?:don't|do not) (?:want|wanna) to be (?:too far gone|like (?:that|him|her|my)|an alcoholic|addicted|that person|dependent|hooked|sick)\b",
    r"\b(?:i'd|i would|i could) be able to\b",
    r"\b(?:it's|it is|that's|that is|it has|it's been|it was) (?:becoming |getting |turning into |really |kind of |a bit of |probably )*(?:a |an )?(?:problem|issue|worse|out of (?:hand|control)|too much|a lot)\b",
    r"\b(?:i|i've|i have) (?:been )?(?:drink|drank|smoke|smoked|use|used|eat|ate|spend|spent|gamble|gambled)(?:ing)? (?:way |far )?too much\b",
    r"\b(?:i'm|i am) (?:worried|concerned|scared|afraid) (?:about|that|of)\b",
    r"\b(?:it's|it is|that's) (?:affecting|hurting|causing|ruining|damaging|costing|getting in the way)\b",
    r"\b(?:i|it) (?:can't|cannot) (?:keep|go on|carry on|continue)\b",
    r"\bsomething (?:has|needs) to (?:change|give)\b|\bit's time\b",
    r"\bi(?:'m| am) (?:sick|tired) of\b",
    r"\b(?:for|because of) (?:my|the) (?:kids|children|family|health|wife|husband|partner|son|daughter|baby|job)\b",
    r"\bi (?:don't|do not) want to (?:end up|be like|lose|die|hurt|keep|go back|feel like this)\b",
)
_REALISATION = _rx(
    r"\bi (?:never|hadn't|had not|didn't|did not|have never|'ve never) (?:really )?(?:realised|realized|thought (?:about|of)|noticed|considered|connected|looked at|seen|saw|knew)\b",
    r"\bi (?:think i )?(?:just |now |finally |really )?(?:realise|realize|realised|realized|see now|can see|get it now|understand now|notice|noticed|figured out|worked out)\b",
    r"\b(?:now that i think about it|come to think of it|thinking about it now|when you put it like that|when you say it like that|i never thought of it that way)\b",
    r"\b(?:that|it) (?:makes|made) (?:a lot of |so much |more )?sense\b",
    r"\bi didn't think (?:i|it) was\b|\bi didn't know (?:that|it)\b",
    r"\b(?:maybe|i guess|i think|oh|so) (?:that's|that is) (?:why|the reason)\b",
    r"\bi guess i (?:do|am|have|did|never|always|really)\b",
    r"\bi (?:think )?(?:i'm|i am) starting to (?:see|realise|realize|understand|think)\b",
    r"\bit's (?:not|never) (?:just|really|about)\b.*\bit's\b",
    r"\bi(?:'ve| have) (?:been )?(?:realising|realizing|noticing|learning|learned|learnt)\b",
)
_SUSTAIN = _rx(
    r"\bi (?:don't|do not|can't|cannot|won't|will not|wouldn't|couldn't) (?:really )?(?:want to|think i (?:need|can|could|should|want|have)|need to|see (?:the|a|why|how)|stop|quit|cut|change|give up|imagine|afford|be bothered|do (?:it|that|this))\b",
    r"\b(?:it's|it is|that's|that is|it isn't|it's not) (?:not )?(?:really |that |a |such a |that big a |really that )*(?:big deal|problem|issue|bad|harmful|that much)\b(?<!\bproblem)",
    r"\bi (?:like|love|enjoy|need) (?:my |to )?(?:drink|drinking|smoke|smoking|it|the taste|getting high|weed|beer|wine|cigarettes)\b",
    r"\b(?:it|drinking|smoking|that|a drink|a cigarette|weed) (?:really )?(?:helps|relaxes|calms|chills|gets) me\b",
    r"\b(?:everyone|everybody|all my friends|all of my friends|my friends) (?:does|do|drinks|smokes|uses)\b",
    r"\bi(?:'m| am) (?:fine|okay|ok|not (?:an alcoholic|addicted|ready|sure|going to))\b",
    r"\bi (?:don't|do not) (?:drink|smoke|use|eat|gamble) (?:that|very|so) much\b",
    r"\bwhat's the point\b|\bit (?:doesn't|won't|wouldn't) (?:help|work|matter)\b",
    r"\bi(?:'ve| have) tried (?:before|everything|that)\b|\bit never works\b|\bi always (?:fail|end up)\b",
    r"\b(?:i|i've|i have) (?:got|have) no (?:time|willpower|choice|energy)\b|\bi (?:don't|do not) have (?:the )?(?:time|willpower|energy|money)\b",
    r"\bi(?:'m| am) (?:too|so) (?:busy|stressed|tired)\b",
    r"\b(?:hard time believing|don't believe|do not believe|doubt (?:that|it)|not convinced|don't buy)\b",
    r"\b(?:don't|do not) know (?:if|whether) i (?:can|could|will|'ll)\b|\bi'm not sure i (?:can|could)\b",
    r"\bi (?:just )?keep (?:doing|going back|drinking|smoking|using)\b",
    # An objection to what was proposed: "Well, two or three months is a long time if…".
    r"^(?:well,? |but,? |i mean,? )*(?:[\w' ]{1,30} )?(?:is|that's|that is|it's|it is|seems|sounds) (?:like )?(?:a (?:really |very )?long time|too (?:long|soon|hard|far|expensive|risky|difficult))\b",
)
_AGREE = re.compile(
    r"^(?:(?:oh|yeah|yes|yep|yup|sure|okay|ok|alright|all right|right|definitely|absolutely|of course|totally|exactly|mm-hmm|uh-huh|mhm|i think so|that's true|true|sounds good|sounds great|that sounds good|good idea|that's a good idea|that makes sense|i like that|i love that|i like it|i can do that|i could do that|i'll do that|i'll try|i will|i can|let's do it|deal|fine|for sure)[,.!\s]*)+(?:i (?:can|could|will|'ll) (?:do|try) (?:that|it|this)[.!]?)?$",
    re.IGNORECASE,
)
_DECLINE = re.compile(
    r"^(?:(?:no|nah|nope|not really|i don't know|i dunno|i'm not sure|not yet|i don't think so|probably not|i doubt it)(?:[,.!]+\s*|$))+(?:$|\b(?!i (?:can|could|will|'ll)\b))|^(?:i (?:don't|do not) (?:think|know)|i'm not (?:sure|ready)|that won't|that wouldn't|i can't)\b",
    re.IGNORECASE,
)
_CLIENT_REAL_QUESTION = _rx(
    r"^(?:(?:and|so|but|okay|well|um|like),?\s+)*(?:what|how|why|when|where|which|who|is|are|do|does|did|should|could|would|can|will|am|was|were|have|has)\b.*\?$",
)
_RHETORICAL = _rx(
    r"\b(?:you know|right|yeah|huh|eh|isn't it|you see)\?$",
    r"^(?:what|who) (?:else|knows)\b",
    r"^why not\?$",
    r"^(?:really|seriously|what)\?$",
)


def _is_question(text: str) -> bool:
    t = text.rstrip()
    if t.endswith("?"):
        return True
    # Whisper sometimes drops the question mark; an inverted auxiliary or a wh-word opening a short
    # sentence is a question all the same.
    return bool(_AUX_CLOSED.match(t) and len(t.split()) <= 14) or bool(
        re.match(r"^(?:what|how|why|where|which|who)\b(?! (?:a|an)\b).*\b(?:you|your)\b", t, re.IGNORECASE)
        and len(t.split()) <= 14
    )


# The main clause is negated ("I don't think I'm ready…", "It's not a problem"): a negation deep
# inside ("…telling them that I don't want to drink anymore") does not negate what was decided.
_MAIN_NEGATED = re.compile(
    r"^(?:i|it|that|this|we|they|he|she|there)(?:'s|'m|'re)?\s+(?:\w+\s+){0,2}?(?:don't|do not|can't|cannot|won't|will not|am not|not|never|didn't|did not|wouldn't|isn't|is not|wasn't|haven't|couldn't|shouldn't)\b",
    re.IGNORECASE,
)
_DISCOURSE = re.compile(
    r"^(?:(?:well|so|and|but|because|cause|'cause|um+|uh+|oh|yeah|yes|no|okay|ok|like|i mean|you know|honestly|actually|i guess|i think|i suppose)\b[,.!]?\s*)+",
    re.IGNORECASE,
)


def _strip_lead(text: str) -> str:
    return _DISCOURSE.sub("", text)


_HABITUAL = re.compile(
    r"\b(?:sometimes|usually|often|always|normally|generally|typically|every time|whenever|most weekends|on weekends)\b[^.]{0,30}\bi(?:'ll| will)\b",
    re.IGNORECASE,
)


def _negated_near(text: str, pattern: re.Pattern[str]) -> bool:
    """Is the cue itself under a negation ("I don't think I'm ready to…", "I'm not going to…")?"""
    m = pattern.search(text)
    if not m:
        return False
    # Whole words around the cue (a character window could cut "notification" to "not").
    before = text[: m.start()].split()[-4:]
    after = text[m.end() :].split()[:2]
    window = " ".join([*before, m.group(0), *after])
    return bool(_NEGATION.search(window))


def tag_therapist(text: str) -> set[str]:
    t = norm(text)
    acts: set[str] = set()
    words = len(t.split())
    question = _is_question(t)
    if DEFERRAL.search(t):
        acts.add("deferral")
    if _NEGOTIATION.search(t):
        acts.add("negotiation")
    if _OPTIONS.search(t):
        acts.add("options")
    if not question and _INFORMATION.search(t):
        acts.add("information")
    if _ADVICE.search(t) and not re.search(r"\b(?:you|i) (?:said|told)\b", t, re.IGNORECASE):
        # "What if you tried…?" is advice; "What do you think you could try?" is a question.
        if not (question and _WH_OPEN.search(t) and not re.search(r"\bwhat if\b", t, re.IGNORECASE)):
            acts.add("advice")
    reflective = bool(_REFLECT_LEAD.search(t))
    if not question and re.match(
        r"^(?:(?:so|and|okay|ok|well|now),?\s+)*(?:tell me|talk to me|say more|describe|help me understand)\b",
        t,
        re.I,
    ):
        acts.add("question_open")  # an open question put as a request
    if question:
        # "So you feel stuck?" - a reflection said with a rising voice, not a real question.
        is_rising_reflection = (
            reflective
            and not _AUX_CLOSED.match(t)
            and not _WH_OPEN.match(t)
            and not re.search(r"\b(?:what|how|why)\b", t, re.IGNORECASE)
        )
        if is_rising_reflection:
            acts.add(
                "reflection_complex" if _REFLECT_COMPLEX.search(t) and words >= 8 else "reflection_simple"
            )
        elif "negotiation" not in acts or _WH_OPEN.search(t):
            acts.add("question_open" if _WH_OPEN.search(t) else "question_closed")
        else:
            acts.add("question_closed")
    elif reflective and not acts & {"advice", "options", "information"}:
        complex_ = bool(_REFLECT_COMPLEX.search(t)) and words >= 8 or words >= 22
        acts.add("reflection_complex" if complex_ else "reflection_simple")
    if _AFFIRM.search(t) and not acts - {"deferral"}:
        acts.add("affirm")
    return acts


def tag_client(text: str, *, after_therapist: set[str] | None = None) -> tuple[set[str], bool, bool]:
    """(acts, negated, hypothetical) for one client sentence. ``after_therapist`` is the act set of
    the therapist turn it answers: a short "yes" means something only in reply to a question."""
    t = _NOT_MIND.sub("would like", norm(text))
    after = after_therapist or set()
    acts: set[str] = set()
    hypothetical = bool(_HYPOTHETICAL.search(t))
    negated = bool(_MAIN_NEGATED.match(_strip_lead(t)))
    if _is_question(t) and not _RHETORICAL.search(t) and _CLIENT_REAL_QUESTION.search(t):
        acts.add("question")
    if DEFERRAL.search(t):
        acts.add("deferral")
    if _AGREE.match(t):
        acts.add("agree")
    elif _DECLINE.match(t) and len(t.split()) <= 12:
        acts.add("decline")
    if _FEELING.search(t):
        acts.add("feeling")
    if _REALISATION.search(t) and not _negated_near(
        t, re.compile(r"\b(?:realise|realize|see|notice|sense|understand)\b", re.IGNORECASE)
    ):
        acts.add("realisation")
    sustain = bool(_SUSTAIN.search(t))
    commitment = bool(_COMMITMENT.search(t)) and not _negated_near(t, _COMMITMENT) and not hypothetical
    desire = bool(_DESIRE.search(t))
    desire_negated = desire and _negated_near(t, _DESIRE)
    ability = bool(_ABILITY.search(t)) and not _negated_near(t, _ABILITY)
    steps = bool(_STEPS.search(t)) and not _negated_near(t, _STEPS)
    problem = bool(_PROBLEM_RECOGNITION.search(t))
    if commitment and sustain:
        commitment = False  # "I'm gonna do what I want, it's my body": a decision not to change
    if commitment and _HABITUAL.search(t):
        commitment = False  # "sometimes I'll go to a friend's house": what usually happens
    if commitment and "question" not in acts:
        acts.add("commitment")
    change = (
        commitment
        or steps
        or problem
        or (desire and not desire_negated and not sustain)
        or (ability and not sustain and not negated)
    )
    if "question" in acts:
        change = change and not t.endswith("?")
    # In answer to a planning question ("What would that look like for you?"), a concrete plan is
    # change talk even when it has no "I will" in it.
    if (
        "negotiation" in after
        and not negated
        and not sustain
        and "decline" not in acts
        and len(t.split()) >= 4
    ):
        change = True
    if _NOT_ANYMORE.search(t):
        change, sustain, desire_negated = True, False, False
        negated = False
    if sustain or desire_negated:
        acts.add("sustain")
    elif change:
        acts.add("change")
    if "realisation" in acts and "sustain" not in acts and problem:
        acts.add("change")
    return acts, negated, hypothetical


def tag_sentences(sentences: Sequence[tuple[str, str]]) -> list[Sentence]:
    """Acts for each (speaker, sentence), in order; the previous turn's acts inform short replies."""
    out: list[Sentence] = []
    last_therapist: set[str] = set()
    for speaker, text in sentences:
        s = Sentence(speaker=speaker, text=text)
        if speaker == "therapist":
            s.acts = tag_therapist(text)
            s.hypothetical = bool(_HYPOTHETICAL.search(norm(text)))
            if out and out[-1].speaker == "therapist":
                last_therapist |= s.acts
            else:
                last_therapist = set(s.acts)
        else:
            s.acts, s.negated, s.hypothetical = tag_client(text, after_therapist=last_therapist)
        out.append(s)
    return out


def tag_turns(turns: Sequence[tuple[str, str]]) -> list[set[str]]:
    """Acts per turn (the union over its sentences), for measuring against turn-level annotations."""
    from .text import clean_sentences

    flat: list[tuple[str, str]] = []
    owner: list[int] = []
    for i, (speaker, text) in enumerate(turns):
        for sentence in clean_sentences(text) or [text]:
            flat.append((speaker, sentence))
            owner.append(i)
    result: list[set[str]] = [set() for _ in turns]
    for i, sentence in zip(owner, tag_sentences(flat), strict=True):
        result[i] |= sentence.acts
    # A turn that both reflects and asks is coded as its main act: the annotation keeps one.
    for acts in result:
        if "change" in acts and "sustain" in acts:
            acts.discard("sustain")
    return result
