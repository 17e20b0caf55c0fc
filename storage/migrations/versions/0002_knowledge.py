"""Knowledge: questions, feedback, staff threads and their messages, staff-linked sample questions.

Revision ID: 0002_knowledge
Revises: 0001_foundation
"""

import sqlalchemy as sa
from alembic import op

import storage.db

revision = "0002_knowledge"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("normalized", sa.Text(), nullable=False),
        sa.Column("entry_id", sa.String(100), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=True),
        sa.Column("staff_answer", sa.Text(), nullable=True),
        sa.Column("resolved_by", sa.BigInteger(), nullable=True),
        sa.Column("resolved_at", storage.db.UTCDateTime(), nullable=True),
        sa.Column("created_at", storage.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questions")),
    )
    op.create_index("ix_questions_status_created_at", "questions", ["status", "created_at"])
    op.create_index("ix_questions_user_id_created_at", "questions", ["user_id", "created_at"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.String(8), nullable=False),
        sa.Column("created_at", storage.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["questions.id"],
            name=op.f("fk_feedback_question_id_questions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
        sa.UniqueConstraint("question_id", "user_id", name=op.f("uq_feedback_question_id")),
    )
    op.create_table(
        "staff_threads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("user_chat_id", sa.BigInteger(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=True),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("staff_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("staff_chat_message_id", sa.BigInteger(), nullable=True),
        sa.Column("staff_user_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", storage.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", storage.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["questions.id"],
            name=op.f("fk_staff_threads_question_id_questions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_threads")),
    )
    op.create_index("ix_staff_threads_user_id_status", "staff_threads", ["user_id", "status"])
    op.create_table(
        "staff_thread_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("thread_id", sa.Integer(), nullable=False),
        sa.Column("staff_chat_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", storage.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["staff_threads.id"],
            name=op.f("fk_staff_thread_messages_thread_id_staff_threads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_thread_messages")),
        sa.UniqueConstraint(
            "staff_chat_id", "message_id", name=op.f("uq_staff_thread_messages_staff_chat_id")
        ),
    )
    op.create_index(op.f("ix_staff_thread_messages_thread_id"), "staff_thread_messages", ["thread_id"])
    op.create_table(
        "kb_extra_questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.String(100), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("added_by", sa.BigInteger(), nullable=True),
        sa.Column("created_at", storage.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_extra_questions")),
    )
    op.create_index(op.f("ix_kb_extra_questions_entry_id"), "kb_extra_questions", ["entry_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_kb_extra_questions_entry_id"), table_name="kb_extra_questions")
    op.drop_table("kb_extra_questions")
    op.drop_index(op.f("ix_staff_thread_messages_thread_id"), table_name="staff_thread_messages")
    op.drop_table("staff_thread_messages")
    op.drop_index("ix_staff_threads_user_id_status", table_name="staff_threads")
    op.drop_table("staff_threads")
    op.drop_table("feedback")
    op.drop_index("ix_questions_user_id_created_at", table_name="questions")
    op.drop_index("ix_questions_status_created_at", table_name="questions")
    op.drop_table("questions")
